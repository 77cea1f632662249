# The type of services.cim-agent.allowedSigners: lines of an OpenSSH
# allowed_signers file, checked when the configuration is evaluated, so that a
# mistake fails `nixos-rebuild` with a message instead of every deployment.
#
# A line is `principals [options] key-type base64-key [comment]`, as
# agent/pull/allowed_signers.c reads it; blank lines and `#` comments pass, so
# that `lib.splitString "\n" (builtins.readFile ./allowed_signers)` works.
{ lib }:
let
  keyTypes = [
    "ssh-ed25519"
    "sk-ssh-ed25519@openssh.com"
    "ssh-rsa"
    "ssh-dss"
    "ecdsa-sha2-nistp256"
    "ecdsa-sha2-nistp384"
    "ecdsa-sha2-nistp521"
    "sk-ecdsa-sha2-nistp256@openssh.com"
  ];
  isKeyType = t: builtins.elem t keyTypes || builtins.match ".+-cert-v01@openssh\\.com" t != null;

  # The base64 of a key starts with its type's name (a length-prefixed
  # string): the part that does not depend on the key itself.
  keyPrefix = {
    "ssh-ed25519" = "AAAAC3NzaC1lZDI1NTE5";
    "sk-ssh-ed25519@openssh.com" = "AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t";
    "ssh-rsa" = "AAAAB3NzaC1y";
    "ssh-dss" = "AAAAB3NzaC1k";
    "ecdsa-sha2-nistp256" = "AAAAE2VjZHNhLXNoYTItbmlzdHAy";
    "ecdsa-sha2-nistp384" = "AAAAE2VjZHNhLXNoYTItbmlzdHAz";
    "ecdsa-sha2-nistp521" = "AAAAE2VjZHNhLXNoYTItbmlzdHA1";
    "sk-ecdsa-sha2-nistp256@openssh.com" = "AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5j";
  };

  # Whitespace-separated tokens; a double-quoted part may hold spaces.
  tokens = line: builtins.filter builtins.isList (builtins.split "((\"[^\"]*\"|[^ \t\"])+)" line);
  token = t: builtins.head t;

  example = "ada@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA...";

  # null when the line is fine, otherwise what is wrong and how to fix it.
  problem =
    line:
    let
      ts = map token (tokens line);
      n = builtins.length ts;
      at = i: builtins.elemAt ts i;
      hasOptions = n >= 3 && !isKeyType (at 1) && isKeyType (at 2);
      type = if hasOptions then at 2 else at 1;
      key = if hasOptions then (if n >= 4 then at 3 else null) else (if n >= 3 then at 2 else null);
      blank = builtins.match "[ \t]*(#.*)?" line != null;
    in
    if lib.hasInfix "\n" line then
      "it holds a newline; give one line per list element"
    else if blank then
      null
    else if isKeyType (at 0) then
      "this looks like an authorized_keys line (a .pub file): allowed_signers lines start with a principal, the e-mail address the commits are made with, as in \"${example}\""
    else if builtins.match "\"[^\"]*\"|[^\"]+" (at 0) == null then
      "badly quoted principals ${at 0}"
    else if n < 2 then
      "no key after the principal ${at 0}; a line is \"${example}\""
    else if !isKeyType type then
      "no key type after the principal (one of ${lib.concatStringsSep ", " keyTypes}, or a -cert-v01@openssh.com type); a line is \"${example}\""
    else if key == null then
      "no base64 key after ${type}"
    else if builtins.match "[A-Za-z0-9+/]+={0,2}" key == null then
      "the key after ${type} is not base64"
    else if keyPrefix ? ${type} && !lib.hasPrefix keyPrefix.${type} key then
      "the key is not an ${type} key (its type and the key disagree; copy both from the same .pub file)"
    else
      null;
in
lib.types.mkOptionType {
  name = "allowedSignersLine";
  description = "allowed_signers line (principals [options] key-type base64-key)";
  descriptionClass = "noun";
  check = builtins.isString;
  # listOf hands each element over alone, so the message names the entry.
  merge =
    loc: defs:
    let
      def = lib.head defs;
      why = problem def.value;
    in
    if builtins.length defs != 1 then
      lib.mergeEqualOption loc defs
    else if why != null then
      throw "The option `${lib.showOption loc}' in ${def.file}: ${why}. The line is: ${def.value}"
    else
      def.value;
}
