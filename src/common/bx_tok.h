/* bx_tok: brix's deterministic tokenizer, shared by the engine simulator and
 * the gateway so that both cut a prompt into the same tokens and therefore
 * agree on prefix-cache block hashes.
 *
 * Rules (documented in docs/engine.md):
 *  - A word is a run of whitespace followed by a run of non-whitespace; the
 *    leading whitespace belongs to the word that follows it (as in GPT-style
 *    BPE, " abc" is one piece). Trailing whitespace forms its own word.
 *  - Each word is cut into pieces of at most BX_TOK_MAX_PIECE (4) bytes,
 *    never splitting a UTF-8 sequence; a piece is one token.
 *  - A token's id is XXH32(piece) mapped into [BX_TOK_FIRST_ID, BX_TOK_VOCAB).
 * So English text averages about 4 bytes per token, and " xyz" (a space and
 * three letters) is always exactly one token.
 *
 * Pure functions over caller buffers; nothing is allocated. */
#ifndef BX_TOK_H
#define BX_TOK_H

#include <stddef.h>
#include <stdint.h>

#define BX_TOK_MAX_PIECE 4
#define BX_TOK_VOCAB 128256u /* Llama 3's vocabulary size */
#define BX_TOK_FIRST_ID 256u /* ids below are reserved for special tokens */

/* Encodes text. Writes at most cap ids (ids may be NULL when cap is 0) and
 * returns the total number of tokens in the text, which may exceed cap.
 * If offs is non-NULL, offs[i] receives the byte offset of token i (for
 * i < cap), so a caller can recover each token's text. */
size_t bx_tok_encode(const char *text, size_t len, uint32_t *ids, uint32_t *offs, size_t cap);

/* Number of tokens in text (same as bx_tok_encode with cap 0). */
size_t bx_tok_count(const char *text, size_t len);

/* Id of one piece of text (used for generated tokens). */
uint32_t bx_tok_piece_id(const char *piece, size_t len);

#endif
