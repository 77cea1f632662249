/* Raw libsodium throughput for age's payload: decrypts SIZE bytes as 64 KiB
 * ChaCha20-Poly1305 (IETF) chunks from one buffer, with nothing else around it
 * (no file, no parsing, no output). bench/decrypt.sh compares the agent's
 * decryption with this. Usage: sodium-rate SIZE_BYTES */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 65536

int main(int argc, char **argv)
{
	unsigned char key[crypto_aead_chacha20poly1305_ietf_KEYBYTES];
	unsigned char nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {0};
	static unsigned char plain[CHUNK], sealed[CHUNK + crypto_aead_chacha20poly1305_ietf_ABYTES];
	unsigned long long sealed_len, plain_len;
	unsigned long long size = argc > 1 ? strtoull(argv[1], NULL, 10) : 0;

	if (argc != 2 || sodium_init() < 0)
		return 2;
	randombytes_buf(key, sizeof(key));
	randombytes_buf(plain, sizeof(plain));
	crypto_aead_chacha20poly1305_ietf_encrypt(sealed, &sealed_len, plain, CHUNK, NULL, 0, NULL,
						  nonce, key);
	for (unsigned long long done = 0; done < size; done += CHUNK)
		if (crypto_aead_chacha20poly1305_ietf_decrypt(plain, &plain_len, NULL, sealed,
							      sealed_len, NULL, 0, nonce, key) < 0)
			return 1;
	return 0;
}
