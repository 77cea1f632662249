# A small stand-in for nixpkgs' `lib`, enough to evaluate nixos/module.nix and
# nixos/darwin.nix on a machine without nixpkgs (see eval-modules.nix and
# nixos/tests/eval.nix). It implements the subset of lib those modules use, with
# the same names and meanings; the modules must not use anything else.
let
  inherit (builtins)
    all any attrNames concatLists concatMap concatStringsSep elem filter foldl'
    genList head isAttrs isBool isFunction isInt isList isPath isString length
    listToAttrs match substring stringLength tail toJSON typeOf
    ;

  unique = foldl' (acc: x: if elem x acc then acc else acc ++ [ x ]) [ ];

  # Shows a definition value in an error message without forcing derivations.
  showValue =
    v:
    if isString v then
      toJSON v
    else if isBool v || isInt v || v == null then
      toJSON v
    else if isList v then
      "[ ${concatStringsSep " " (map showValue v)} ]"
    else if isAttrs v && v ? outPath then
      "<derivation ${v.name or "?"}>"
    else
      "<${typeOf v}>";

  showLoc = concatStringsSep ".";

  mkOptionType =
    {
      name,
      description ? name,
      check,
      merge ? mergeEqual,
      nestedTypes ? { },
      ...
    }@args:
    args
    // {
      _type = "option-type";
      inherit
        name
        description
        check
        merge
        nestedTypes
        ;
    };

  # Scalars: every definition must be the same value.
  mergeEqual =
    loc: values:
    let
      first = head values;
    in
    if all (v: v == first) values then
      first
    else
      throw "The option `${showLoc loc}' has conflicting definition values: ${concatStringsSep ", " (map showValue values)}";

  # --- module-system properties (mkIf, mkMerge, mkOverride) --------------------

  isProperty = t: v: isAttrs v && (v._type or null) == t;

  # One raw definition -> a list of { priority, value } with the properties at
  # its top level resolved (conditions evaluated, merges flattened).
  discharge =
    d:
    if isProperty "merge" d then
      concatMap discharge d.contents
    else if isProperty "if" d then
      (
        if !isBool d.condition then
          throw "mkIf called with a non-Boolean condition"
        else if d.condition then
          discharge d.content
        else
          [ ]
      )
    else if isProperty "override" d then
      map (x: x // { inherit (d) priority; }) (discharge d.content)
    else
      [
        {
          priority = 100;
          value = d;
        }
      ];

  # Pushes mkIf/mkMerge/mkOverride on an attribute set down to its attributes,
  # without evaluating conditions: a list of attribute sets.
  pushDown =
    loc: d:
    if isProperty "merge" d then
      concatMap (pushDown loc) d.contents
    else if isProperty "if" d then
      map (builtins.mapAttrs (_: lib.mkIf d.condition)) (pushDown loc d.content)
    else if isProperty "override" d then
      map (builtins.mapAttrs (_: lib.mkOverride d.priority)) (pushDown loc d.content)
    else if isAttrs d && !(d ? _type) then
      [ d ]
    else
      throw "The option `${showLoc loc}' is an attribute set of options, but is defined as ${showValue d}";

  # Merges raw definitions of one option: properties resolved, highest
  # priority (lowest number) kept, each value type-checked, then type.merge.
  # Returns { defined = bool; value; }.
  mergeDefinitions =
    loc: type: raw:
    let
      defs = concatMap discharge raw;
      best = foldl' (m: d: if d.priority < m then d.priority else m) 9999 defs;
      chosen = map (d: d.value) (filter (d: d.priority == best) defs);
      checked = map (
        v:
        if type.check v then
          v
        else
          throw "A definition for option `${showLoc loc}' is not of type `${type.description}'. Definition value: ${showValue v}"
      ) chosen;
    in
    {
      defined = chosen != [ ];
      value = type.merge loc checked;
    };

  # Merges attribute sets name by name, each name's values as elemType; names
  # left without a definition (all mkIf false) are dropped.
  mergeAttrValues =
    elemType: loc: values:
    let
      names = unique (concatMap attrNames values);
      merged = map (n: {
        name = n;
        r = mergeDefinitions (loc ++ [ n ]) elemType (
          concatMap (v: if v ? ${n} then [ v.${n} ] else [ ]) values
        );
      }) names;
    in
    listToAttrs (
      map (m: {
        inherit (m) name;
        value = m.r.value;
      }) (filter (m: m.r.defined) merged)
    );

  # Evaluates a tree of option declarations against definitions. Attributes
  # defined but not declared are an error, unless freeformType (an attrsOf)
  # takes them.
  evalTree =
    loc: decls: freeformType: raw:
    let
      pushed = concatMap (pushDown loc) raw;
      defsOf = n: concatMap (d: if d ? ${n} then [ d.${n} ] else [ ]) pushed;
      definedNames = unique (concatMap attrNames pushed);
      undeclared = filter (n: !(decls ? ${n})) definedNames;
      subFreeform = if freeformType == null then null else freeformType.nestedTypes.elemType or null;
      declared = builtins.mapAttrs (
        n: d:
        if lib.isOption d then
          evalOption (loc ++ [ n ]) d (defsOf n)
        else
          evalTree (loc ++ [ n ]) d subFreeform (defsOf n)
      ) decls;
      free = concatMap (
        n:
        let
          r = mergeDefinitions (loc ++ [ n ]) freeformType.nestedTypes.elemType (defsOf n);
        in
        if r.defined then
          [
            {
              name = n;
              inherit (r) value;
            }
          ]
        else
          [ ]
      ) undeclared;
    in
    if undeclared != [ ] && freeformType == null then
      throw "The option `${showLoc (loc ++ [ (head undeclared) ])}' does not exist."
    else
      declared // listToAttrs free;

  evalOption =
    loc: opt: raw:
    let
      type = opt.type or lib.types.unspecified;
      r = mergeDefinitions loc type (
        raw ++ (if opt ? default then [ (lib.mkOverride 1500 opt.default) ] else [ ])
      );
      value =
        if r.defined then
          r.value
        else
          throw "The option `${showLoc loc}' is used but not defined.";
    in
    if opt ? apply then opt.apply value else value;

  # Declarations of several modules, merged into one tree.
  mergeDecls =
    loc: a: b:
    if lib.isOption a || lib.isOption b then
      throw "The option `${showLoc loc}' is declared twice."
    else
      a
      // builtins.mapAttrs (n: v: if a ? ${n} then mergeDecls (loc ++ [ n ]) a.${n} v else v) b;

  lib = {
    inherit (builtins)
      all
      any
      attrNames
      attrValues
      concatLists
      concatMap
      concatStringsSep
      elem
      filter
      head
      isAttrs
      isBool
      isFunction
      isInt
      isList
      isString
      length
      mapAttrs
      toString
      ;
    inherit showLoc unique;

    id = x: x;
    boolToString = b: if b then "true" else "false";
    optional = c: x: if c then [ x ] else [ ];
    optionals = c: xs: if c then xs else [ ];
    optionalString = c: s: if c then s else "";
    optionalAttrs = c: s: if c then s else { };
    concatMapStringsSep = sep: f: l: concatStringsSep sep (map f l);
    hasPrefix = p: s: substring 0 (stringLength p) s == p;
    hasInfix = infix: s: match ".*${lib.escapeRegex infix}.*" s != null;
    escapeRegex = s: builtins.replaceStrings [ "\\" "." "*" "+" "?" "(" ")" "[" "]" "{" "}" "|" "^" "$" ] [ "\\\\" "\\." "\\*" "\\+" "\\?" "\\(" "\\)" "\\[" "\\]" "\\{" "\\}" "\\|" "\\^" "\\$" ] s;
    filterAttrs =
      pred: set:
      listToAttrs (
        concatMap (
          n:
          if pred n set.${n} then
            [
              {
                name = n;
                value = set.${n};
              }
            ]
          else
            [ ]
        ) (attrNames set)
      );
    mapAttrsToList = f: set: map (n: f n set.${n}) (attrNames set);
    genAttrs =
      names: f:
      listToAttrs (
        map (n: {
          name = n;
          value = f n;
        }) names
      );
    cleanSource = src: src;
    cleanSourceWith = { src, ... }: src;
    platforms = {
      linux = [ "x86_64-linux" "aarch64-linux" ];
      darwin = [ "x86_64-darwin" "aarch64-darwin" ];
    };
    getExe' = pkg: name: "${pkg}/bin/${name}";
    escapeShellArg = s: "'${builtins.replaceStrings [ "'" ] [ "'\\''" ] (toString s)}'";
    escapeShellArgs = l: concatStringsSep " " (map lib.escapeShellArg l);

    isOption = v: isAttrs v && (v._type or null) == "option";
    mkOption = args: args // { _type = "option"; };
    mkEnableOption =
      name:
      lib.mkOption {
        type = lib.types.bool;
        default = false;
        example = true;
        description = "Whether to enable ${name}.";
      };
    mkIf = condition: content: {
      _type = "if";
      inherit condition content;
    };
    mkMerge = contents: {
      _type = "merge";
      inherit contents;
    };
    mkOverride = priority: content: {
      _type = "override";
      inherit priority content;
    };
    mkOptionDefault = lib.mkOverride 1500;
    mkDefault = lib.mkOverride 1000;
    mkForce = lib.mkOverride 50;
    literalExpression = text: {
      _type = "literalExpression";
      inherit text;
    };
    literalMD = text: {
      _type = "literalMD";
      inherit text;
    };

    types = rec {
      unspecified = mkOptionType {
        name = "unspecified";
        check = _: true;
      };
      # Attribute sets merge recursively, lists concatenate, the rest must agree.
      anything = mkOptionType {
        name = "anything";
        check = _: true;
        merge =
          loc: values:
          if all (v: isAttrs v && !(v ? outPath)) values then
            mergeAttrValues anything loc values
          else if all isList values then
            concatLists values
          else
            mergeEqual loc values;
      };
      str = mkOptionType {
        name = "str";
        description = "string";
        check = isString;
      };
      lines = mkOptionType {
        name = "lines";
        description = "strings concatenated with \"\\n\"";
        check = isString;
        merge = _: values: concatStringsSep "\n" values;
      };
      strMatching =
        pattern:
        mkOptionType {
          name = "strMatching ${toJSON pattern}";
          description = "string matching the pattern ${pattern}";
          check = x: isString x && match pattern x != null;
        };
      bool = mkOptionType {
        name = "bool";
        description = "boolean";
        check = isBool;
      };
      int = mkOptionType {
        name = "int";
        description = "signed integer";
        check = isInt;
      };
      ints.unsigned = mkOptionType {
        name = "unsignedInt";
        description = "unsigned integer, meaning >=0";
        check = x: isInt x && x >= 0;
      };
      path = mkOptionType {
        name = "path";
        description = "path";
        check = x: isPath x || (isString x && substring 0 1 x == "/") || (isAttrs x && x ? outPath);
      };
      package = mkOptionType {
        name = "package";
        description = "package";
        check = x: isAttrs x && x ? outPath;
      };
      enum =
        values:
        mkOptionType {
          name = "enum";
          description = "one of ${concatStringsSep ", " (map toJSON values)}";
          check = x: elem x values;
        };
      nullOr =
        elemType:
        mkOptionType {
          name = "nullOr";
          description = "null or ${elemType.description}";
          check = x: x == null || elemType.check x;
          nestedTypes = { inherit elemType; };
          merge =
            loc: values:
            if all (v: v == null) values then
              null
            else if any (v: v == null) values then
              throw "The option `${showLoc loc}' is defined both null and not null."
            else
              elemType.merge loc values;
        };
      either =
        t1: t2:
        mkOptionType {
          name = "either";
          description = "${t1.description} or ${t2.description}";
          check = x: t1.check x || t2.check x;
          merge =
            loc: values:
            if all t1.check values then
              t1.merge loc values
            else if all t2.check values then
              t2.merge loc values
            else
              mergeEqual loc values;
        };
      oneOf = ts: foldl' either (head ts) (tail ts);
      listOf =
        elemType:
        mkOptionType {
          name = "listOf";
          description = "list of ${elemType.description}";
          check = isList;
          nestedTypes = { inherit elemType; };
          merge =
            loc: values:
            let
              elems = concatLists values;
            in
            genList (
              i:
              let
                r = mergeDefinitions (loc ++ [ "[${toString i}]" ]) elemType [ (builtins.elemAt elems i) ];
              in
              r.value
            ) (length elems);
        };
      attrsOf =
        elemType:
        mkOptionType {
          name = "attrsOf";
          description = "attribute set of ${elemType.description}";
          check = x: isAttrs x && !(x ? _type);
          nestedTypes = { inherit elemType; };
          merge =
            loc: values:
            mergeAttrValues elemType loc values;
        };
      # A submodule: an attribute set (or a function returning one) with
      # `options` and optionally `freeformType`, like nixpkgs' types.submodule.
      submodule =
        module:
        mkOptionType {
          name = "submodule";
          description = "submodule";
          check = x: isAttrs x || isFunction x;
          # The declarations, for listing option paths (config is not available).
          getSubOptions =
            (if isFunction module then module { inherit lib; config = throw "no config"; name = "<name>"; } else module).options or { };
          merge =
            loc: values:
            let
              m = if isFunction module then module { inherit lib; config = result; name = lib.last loc; } else module;
              result = evalTree loc (m.options or { }) (m.freeformType or null) (
                values ++ (if m ? config then [ m.config ] else [ ])
              );
            in
            result;
        };
    };

    last = l: builtins.elemAt l (length l - 1);

    # lib.evalModules, simplified: modules are functions or attribute sets with
    # options/config/imports (or a bare config). Options' defaults, then the
    # modules' definitions, merged by type and priority, as a fixpoint.
    evalModules =
      {
        modules,
        specialArgs ? { },
      }:
      let
        args = specialArgs // {
          inherit lib config options;
        };
        load =
          m:
          let
            fn = if isPath m || isString m then import m else m;
            v = if isFunction fn then fn args else fn;
            structured = v ? options || v ? config;
            normal = {
              options = v.options or { };
              config =
                if structured then
                  v.config or { }
                else
                  removeAttrs v [
                    "imports"
                    "_file"
                    "meta"
                  ];
            };
          in
          [ normal ] ++ concatMap load (v.imports or [ ]);
        loaded = concatMap load modules;
        options = foldl' (mergeDecls [ ]) { } (map (m: m.options) loaded);
        config = evalTree [ ] options null (map (m: m.config) loaded);
      in
      {
        inherit config options;
      };

    # Every declared option's path, "a.b.c", for comparing against what a
    # module is expected to declare; a submodule's options are listed under
    # the option's path, those of attrsOf/listOf elements under "<name>".
    optionPaths =
      decls:
      let
        go =
          prefix: d:
          if lib.isOption d then
            [ (showLoc prefix) ] ++ subPaths prefix (d.type or lib.types.unspecified)
          else
            concatMap (n: go (prefix ++ [ n ]) d.${n}) (attrNames d);
        subPaths =
          prefix: t:
          if t ? getSubOptions then
            go prefix t.getSubOptions
          else if t.name == "attrsOf" || t.name == "listOf" then
            subPaths (prefix ++ [ "<name>" ]) t.nestedTypes.elemType
          else if t.name == "nullOr" then
            subPaths prefix t.nestedTypes.elemType
          else
            [ ];
      in
      go [ ] decls;
  };
in
lib
