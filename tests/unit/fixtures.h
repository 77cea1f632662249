/* Shared fixtures for the unit tests. The keys are throwaway test keys made
 * once with `ssh-keygen -t ed25519/rsa/ecdsa`; the signatures were made with
 * `ssh-keygen -Y sign -n git -f key msg` (and -n file, -O hashalg=sha256).
 * The private keys were deleted; nothing here protects anything. */
#ifndef CIM_TEST_FIXTURES_H
#define CIM_TEST_FIXTURES_H

/* The file that was signed (a commit object without its gpgsig header). */
static const char fx_msg[] = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
			     "author Ada <ada@example.com> 1700000000 +0000\n"
			     "committer Ada <ada@example.com> 1700000000 +0000\n"
			     "\n"
			     "initial\n";

#define FX_ADA_TYPE "ssh-ed25519"
#define FX_ADA_B64  "AAAAC3NzaC1lZDI1NTE5AAAAIAzC05HXL7ajo9jz+fC3xi5HAWYu/5wzVGZTkt2H0Yop"
/* ssh-keygen -l -f ada.pub */
#define FX_ADA_FP "SHA256:tlbP+HHCo8h4jtwkMRnaf2ocIOCFqjuKCEtx8TCU1CA"

#define FX_RSA_B64                                                                                 \
	"AAAAB3NzaC1yc2EAAAADAQABAAABAQCw6eebLKXL5aB2qefgZjQ0I4DworxfPZMMVlF3dmVTTvTIFCUEEgGPJ1nB" \
	"3"                                                                                        \
	"xj1Ad0BWQsQxydCoen7xmVfh5p1eGX6KsRpeWx9fMNkrxhoQ7zQNpcaN7UsxpahoubvnFWPUKXZAWT+7hOV0/"    \
	"iE7U"                                                                                     \
	"EZY16YQwd6DcITeZmmUXLxzLe0620qRAPRrxV6pRro6u1OKj2xuIrwYI+"                                \
	"9tt0engDhZvHPDc5VqQPo288WTJXLASC"                                                         \
	"mYgl+QLwrQE0eQB/PjfTfQFfRoENCYejksAE8+SglgC+fJ+a4mdJffWpH2La34aDtUnDuoOfcM/"              \
	"gKUalBulDkN5iH"                                                                           \
	"ec8f03vI4a1vYAqN"

#define FX_ECDSA_B64                                                                               \
	"AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBDELknJYkZGk0s5p7txbkNs0CQzqGErtXufk" \
	"r"                                                                                        \
	"bVlvnE0FjTatxm3m5mr68FxvqVEyzf5RZPJl1yey8zmM5U8qCg="

/* ssh-keygen -Y sign -n git -f ada msg (hash sha512, the default) */
static const char fx_sig_git[] =
    "-----BEGIN SSH SIGNATURE-----\n"
    "U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgDMLTkdcvtqOj2PP58LfGLkcBZi\n"
    "7/nDNUZlOS3YfRiikAAAADZ2l0AAAAAAAAAAZzaGE1MTIAAABTAAAAC3NzaC1lZDI1NTE5\n"
    "AAAAQBlECqU9x4z4sW3YONTFEzmd6d+AsSJnkNUFmaFVvbXV6eObIKu2bx9KnJlj9Hm0x7\n"
    "pDM/ol0UZfAd2tdcvpUAE=\n"
    "-----END SSH SIGNATURE-----\n";

/* ssh-keygen -Y sign -n git -O hashalg=sha256 -f ada msg */
static const char fx_sig_sha256[] =
    "-----BEGIN SSH SIGNATURE-----\n"
    "U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgDMLTkdcvtqOj2PP58LfGLkcBZi\n"
    "7/nDNUZlOS3YfRiikAAAADZ2l0AAAAAAAAAAZzaGEyNTYAAABTAAAAC3NzaC1lZDI1NTE5\n"
    "AAAAQPBNiQsogMPOduO8Tiy1k1MqOlVph6+wo/IE1AvQIAbO2t7D4ZoE+ZSU5BBVJTav6y\n"
    "qU3x6C5Y0+7NSxuVm0vgc=\n"
    "-----END SSH SIGNATURE-----\n";

/* ssh-keygen -Y sign -n file -f ada msg */
static const char fx_sig_file[] =
    "-----BEGIN SSH SIGNATURE-----\n"
    "U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgDMLTkdcvtqOj2PP58LfGLkcBZi\n"
    "7/nDNUZlOS3YfRiikAAAAEZmlsZQAAAAAAAAAGc2hhNTEyAAAAUwAAAAtzc2gtZWQyNTUx\n"
    "OQAAAEBrCfqi7ADY40MPp+XRdNtgm/nBItKuHHrgbL7BZlZUAOq/+Bo8ERsJ+9Pv64/CZ2\n"
    "do0ck8ZrbRVQAj9IV2i44O\n"
    "-----END SSH SIGNATURE-----\n";

/* ssh-keygen -Y sign -n git -f rsa msg (a 2048-bit RSA key) */
static const char fx_sig_rsa[] =
    "-----BEGIN SSH SIGNATURE-----\n"
    "U1NIU0lHAAAAAQAAARcAAAAHc3NoLXJzYQAAAAMBAAEAAAEBALDp55sspcvloHap5+BmND\n"
    "QjgPCivF89kwxWUXd2ZVNO9MgUJQQSAY8nWcHfGPUB3QFZCxDHJ0Kh6fvGZV+HmnV4Zfoq\n"
    "xGl5bH18w2SvGGhDvNA2lxo3tSzGlqGi5u+cVY9QpdkBZP7uE5XT+ITtQRljXphDB3oNwh\n"
    "N5maZRcvHMt7TrbSpEA9GvFXqlGujq7U4qPbG4ivBgj7223R6eAOFm8c8NzlWpA+jbzxZM\n"
    "lcsBIKZiCX5AvCtATR5AH8+N9N9AV9GgQ0Jh6OSwATz5KCWAL58n5riZ0l99akfYtrfhoO\n"
    "1ScO6g59wz+ApRqUG6UOQ3mId5zx/Te8jhrW9gCo0AAAADZ2l0AAAAAAAAAAZzaGE1MTIA\n"
    "AAEUAAAADHJzYS1zaGEyLTUxMgAAAQAIruuoX+qzkjDyN7NsAofcBpS+FvOEicfKCnhHMf\n"
    "Tly/TvkJbn+4cEnCMXUtef6g2OtLy0LpXjFstWZ1hw1Dgf7XbqquDFwzeVtgPSeT+27/Ph\n"
    "ThSI+OAiD4oppCZNY4WUCowdFJcJ35DVF6BeU1BOOZJBn26Xt/p2R7YSzSwYlhU7Aqc8Dk\n"
    "S5S7wIqI4wS6703BcozHDvKG6p2+Myj8g44tZ6J75F6MtSVMpIepL/na7cSlN08c7Y28fE\n"
    "cL6QSGfYGhHiH772dINupuxAWdR/oovz9ByIzcn1C5+plsvl/Iw5s5NPJB3/bBwjVYi+cA\n"
    "HUALBQ2yGJpTPc67V8ES2N\n"
    "-----END SSH SIGNATURE-----\n";

/* Hand-written: what git stores for a gpg.format=openpgp signature. */
static const char fx_sig_gpg[] = "-----BEGIN PGP SIGNATURE-----\n"
				 "\n"
				 "iHUEABYKAB0WIQRmYWtlZmFrZWZha2VmYWtlZmFrZWZha2UACgkQZmFrZQ==\n"
				 "=fake\n"
				 "-----END PGP SIGNATURE-----\n";

#endif
