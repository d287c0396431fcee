/* Swin-V2 block (see swin.h). The linear layers go through ctx->ops; the window attention
 * (q k^T, softmax, times v: small products, fused per window) and the other small pieces (bias
 * table, gathers) are plain C, on the context's pool. */
#include "nets/swin.h"

#include "nets/attention.h"
#include "nets/layers.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 16 sigmoid(CPB_MLP(log-spaced offset)) for every head and (i, j) pair of window tokens:
 * bias[h][i][j], i, j in [0, ws^2). */
static int cpb_bias(const nn_swin_block *b, int ws, float *bias)
{
    int span = 2 * ws - 1, hid = b->cpb_hidden, nt = ws * ws;
    float *table = malloc((size_t)span * span * b->heads * sizeof *table);
    float *hbuf = malloc((size_t)hid * sizeof *hbuf);
    if (!table || !hbuf) {
        free(table);
        free(hbuf);
        return NN_ERR_NOMEM;
    }
    float norm = ws > 1 ? (float)(ws - 1) : 1.0f;
    for (int dy = 0; dy < span; dy++) {
        for (int dx = 0; dx < span; dx++) {
            float in[2] = {(float)(dy - (ws - 1)) / norm * 8.0f,
                           (float)(dx - (ws - 1)) / norm * 8.0f};
            for (int c = 0; c < 2; c++) {
                float v = in[c];
                float s = v > 0 ? 1.0f : v < 0 ? -1.0f : 0.0f;
                in[c] = s * log2f(fabsf(v) + 1.0f) / 3.0f; /* log2(8) = 3 */
            }
            for (int u = 0; u < hid; u++) {
                float a = 0.0f;
                a += b->cpb_w1[2 * u] * in[0];
                a += b->cpb_w1[2 * u + 1] * in[1];
                a += b->cpb_b1[u];
                hbuf[u] = a > 0 ? a : 0.0f;
            }
            for (int h = 0; h < b->heads; h++) {
                float a = 0.0f;
                for (int u = 0; u < hid; u++)
                    a += b->cpb_w2[(size_t)h * hid + u] * hbuf[u];
                table[((size_t)dy * span + dx) * b->heads + h] = 16.0f / (1.0f + expf(-a));
            }
        }
    }
    for (int i = 0; i < nt; i++)
        for (int j = 0; j < nt; j++) {
            int dy = i / ws - j / ws + ws - 1, dx = i % ws - j % ws + ws - 1;
            for (int h = 0; h < b->heads; h++)
                bias[((size_t)h * nt + i) * nt + j] =
                    table[((size_t)dy * span + dx) * b->heads + h];
        }
    free(table);
    free(hbuf);
    return NN_OK;
}

/* Region label of a coordinate of the shifted map (Swin's img_mask slices). */
static int region(int y, int size, int ws, int shift)
{
    return y < size - ws ? 0 : y < size - shift ? 1 : 2;
}

/* Work buffers, carved from one allocation: tok, the block's token rows (window order); win,
 * the attention's output (merged) and later fc2's; qkv, whose memory also takes the
 * projection (qkv is dead after the attention) and the MLP's hidden activations when they fit
 * (the projection is dead once added to tok). */
typedef struct bufs {
    float *tok, *win, *qkv, *merged, *proj, *bias, *qkv_b, *scale, *mlp;
} bufs;

static int alloc_bufs(nn_context *ctx, bufs *s, size_t hw, int c, int nh, int nt, int hidden)
{
    size_t rc_ = hw * (size_t)c, mlp = hw * (size_t)hidden;
    size_t own_mlp = mlp > 3 * rc_ ? mlp : 0;
    float *at = nn_context_work(ctx, 5 * rc_ + own_mlp + (size_t)nh * nt * nt + 3 * (size_t)c + nh);
    if (!at) return NN_ERR_NOMEM;
    s->tok = at;
    s->win = at + rc_;
    s->qkv = at + 2 * rc_;
    s->merged = s->win;
    s->proj = s->qkv;
    s->mlp = own_mlp ? at + 5 * rc_ : s->qkv;
    s->bias = at + 5 * rc_ + own_mlp;
    s->qkv_b = s->bias + (size_t)nh * nt * nt;
    s->scale = s->qkv_b + 3 * (size_t)c; /* [nh]: each head's exp(min(logit_scale, ln 100)) */
    return NN_OK;
}

int nn_swin_block_forward(nn_context *ctx, const nn_swin_block *b, nn_tensor *x)
{
    return nn_swin_block_forward_ex(ctx, b, x, 0);
}

/* The block's plain-C pieces, run on the context's pool: each task takes a range of windows
 * and computes its elements exactly as a single thread would, so the result is the same bits
 * for any thread count. */
/* SWIN_IN: the map (NCHW) into tok as window-ordered token rows: window wi's token t (row
 * wi * nt + t) is the pixel at window_pos; SWIN_OUT: back. Every step in between acts per
 * token row (linear layers, LayerNorm, residual adds) or per window (attention), so the rows
 * stay in window order through the whole block: no gather, scatter or token-major copy. */
enum { SWIN_IN, SWIN_ATTENTION, SWIN_OUT };

typedef struct swin_job {
    const nn_swin_block *b;
    const bufs *s;
    float *img;
    int phase, ntasks, c, h, w, ws, nh, hd, nt, nwin, shift, failed;
    size_t hw;
    nn_attn_kernels k;
    int avx2; /* transpose8 runs */
} swin_job;

/* Window wi, token r of the window -> its position in the map rolled by -shift. */
static size_t window_pos(const swin_job *j, int wi, int t)
{
    int wy = wi / (j->w / j->ws), wx = wi % (j->w / j->ws), i = t / j->ws, jj = t % j->ws;
    int yy = (wy * j->ws + i + j->shift) % j->h, xx = (wx * j->ws + jj + j->shift) % j->w;
    return (size_t)yy * j->w + xx;
}

/* Per task: one window's heads and scores. */
typedef struct attn_buf {
    int *lab;    /* [nt] region labels */
    float *tile; /* [nt][nt] scores */
    float *q;    /* [nh][nt][hd], L2-normalised */
    float *kt;   /* [nh][hd][nt], L2-normalised, transposed */
    float *v;    /* [nh][nt][hd] */
    float *sum;  /* [nt] the softmax's sums */
} attn_buf;

/* Window wi's attention into merged [token][head * hd + d]: its heads split from qkv (q and k
 * L2-normalised, k transposed), then per head the scores q k^T, the softmax of the scaled
 * cosine similarity plus position bias and shift mask, and the product with v (attention.h),
 * all in the task's buffers, which stay in cache (the whole map's heads and scores were
 * written and read back, and oneDNN's batched products of 64x24 by 24x64 matrices ran at a
 * tenth of its speed on larger ones). */
static void swin_attention(const swin_job *j, int wi, const attn_buf *ab)
{
    const bufs *s = j->s;
    int nt = j->nt, ws = j->ws, hd = j->hd, c = j->c, shift = j->shift;
    int wy = wi / (j->w / ws), wx = wi % (j->w / ws);
    if (shift)
        for (int t = 0; t < nt; t++)
            ab->lab[t] = region(wy * ws + t / ws, j->h, ws, shift) * 3 +
                         region(wx * ws + t % ws, j->w, ws, shift);
    j->k.split_heads(s->qkv + (size_t)wi * nt * 3 * c, nt, j->nh, hd, ab->q, ab->kt, ab->v);
    for (int hh = 0; hh < j->nh; hh++) {
        const float *q = ab->q + (size_t)hh * nt * hd, *kt = ab->kt + (size_t)hh * nt * hd;
        const float *v = ab->v + (size_t)hh * nt * hd;
        j->k.scores(q, kt, hd, nt, nt, ab->tile);
        for (int i = 0; i < nt; i++)
            ab->sum[i] = j->k.softmax(ab->tile + (size_t)i * nt, s->bias + ((size_t)hh * nt + i) * nt,
                                      shift ? ab->lab : NULL, shift ? ab->lab[i] : 0, s->scale[hh], nt);
        j->k.weighted(ab->tile, v, ab->sum, nt, hd, nt,
                      s->merged + (size_t)wi * nt * c + (size_t)hh * hd, (size_t)c);
    }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(NN_NO_CLONES)
#include <immintrin.h>

/* 8 tokens x 8 channels at a time between the map and token rows, for every whole group of 8
 * of the c channels: in (to rows) loads 8 consecutive pixels of 8 channel planes (hw apart)
 * from px, out stores them back; rows [8][c]; an 8x8 transpose in registers. (Groups of 16
 * channels were slower: 16 planes read at the same offset, a multiple of 4 KiB apart, map to
 * one cache set.) Returns the channels done. */
__attribute__((target("avx2"))) static int transpose8(float *px, size_t hw, int c, float *rows,
                                                      int in)
{
    int ch = 0;
    for (; ch + 8 <= c; ch += 8) {
        __m256 r[8], t[8], u[8];
        for (int k = 0; k < 8; k++) /* in: channel ch + k; out: token k */
            r[k] = in ? _mm256_loadu_ps(px + (size_t)(ch + k) * hw)
                      : _mm256_loadu_ps(rows + (size_t)k * c + ch);
        for (int k = 0; k < 8; k += 2) {
            t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
            t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
        }
        for (int k = 0; k < 8; k += 4) {
            u[k] = _mm256_shuffle_ps(t[k], t[k + 2], 0x44);
            u[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], 0xEE);
            u[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0x44);
            u[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0xEE);
        }
        for (int k = 0; k < 4; k++) {
            r[k] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x20);
            r[k + 4] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x31);
        }
        for (int k = 0; k < 8; k++)
            if (in)
                _mm256_storeu_ps(rows + (size_t)k * c + ch, r[k]);
            else
                _mm256_storeu_ps(px + (size_t)(ch + k) * hw, r[k]);
    }
    return ch;
}
#endif

static void swin_task(void *arg, int task)
{
    swin_job *j = arg;
    const bufs *s = j->s;
    int c = j->c, nt = j->nt, nh = j->nh, hd = j->hd;
    int w0 = j->nwin * task / j->ntasks, w1 = j->nwin * (task + 1) / j->ntasks;
    attn_buf ab = {0};
    size_t heads = (size_t)nh * nt * hd;
    ab.lab = malloc((size_t)nt * sizeof *ab.lab);
    if (j->phase == SWIN_ATTENTION)
        ab.tile = malloc(((size_t)nt * nt + 3 * heads + (size_t)nt) * sizeof(float));
    if (!ab.lab || (j->phase == SWIN_ATTENTION && !ab.tile)) {
        free(ab.lab);
        free(ab.tile);
        j->failed = 1;
        return;
    }
    if (ab.tile) {
        ab.q = ab.tile + (size_t)nt * nt, ab.kt = ab.q + heads, ab.v = ab.kt + heads;
        ab.sum = ab.v + heads;
    }
    for (int wi = w0; wi < w1; wi++) {
        if (j->phase == SWIN_ATTENTION) {
            swin_attention(j, wi, &ab);
            continue;
        }
        int *pos = ab.lab; /* the window's pixels (the map rolled by -shift) */
        for (int t = 0; t < nt; t++)
            pos[t] = (int)window_pos(j, wi, t);
        float *rows = s->tok + (size_t)wi * nt * c;
        for (int i = 0; i < j->ws; i++) { /* a row of the window: ws tokens */
            const int *pr = pos + i * j->ws;
            float *ri = rows + (size_t)i * j->ws * c;
            int ch = 0;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(NN_NO_CLONES)
            /* not wrapped around by the shift: 8 consecutive pixels per channel */
            if (j->ws == 8 && pr[7] == pr[0] + 7 && j->avx2)
                ch = transpose8(j->img + pr[0], j->hw, c, ri, j->phase == SWIN_IN);
#endif
            for (; ch < c; ch++) {
                float *plane = j->img + (size_t)ch * j->hw;
                if (j->phase == SWIN_IN)
                    for (int t = 0; t < j->ws; t++)
                        ri[(size_t)t * c + ch] = plane[pr[t]];
                else
                    for (int t = 0; t < j->ws; t++)
                        plane[pr[t]] = ri[(size_t)t * c + ch];
            }
        }
    }
    free(ab.lab);
    free(ab.tile);
}

static int swin_run(nn_context *ctx, swin_job *j, int phase)
{
    j->phase = phase;
    nn_pool_run(j->ntasks > 1 ? ctx->pool : NULL, swin_task, j, j->ntasks);
    return j->failed ? NN_ERR_NOMEM : NN_OK;
}

int nn_swin_block_forward_ex(nn_context *ctx, const nn_swin_block *b, nn_tensor *x,
                             int keep_shift)
{
    if (!b || !x || !x->data || x->ndim != 4 || x->shape[1] != b->dim || b->heads < 1 ||
        b->dim % b->heads || b->window < 1 || b->shift < 0 || b->shift >= b->window ||
        b->hidden < 1 || b->cpb_hidden < 1)
        return NN_ERR_ARG;
    int c = b->dim, h = x->shape[2], w = x->shape[3], ws = b->window, nh = b->heads;
    if (h % ws || w % ws || (size_t)h * w > (size_t)INT_MAX / 4) return NN_ERR_ARG;
    int shift = (h <= ws && w <= ws && !keep_shift) ? 0 : b->shift;
    int hd = c / nh, nt = ws * ws, nwin = (h / ws) * (w / ws);
    if (hd > NN_ATTN_MAX_HEAD_DIM) return NN_ERR_ARG;
    size_t hw = (size_t)h * w, rows = hw; /* every token is in exactly one window */
    bufs s = {0};
    /* the host writes the bias table and qkv bias into work memory that the previous block's
     * ops may still read on a backend that leaves work in flight */
    int rc = nn_context_sync(ctx);
    if (rc) return rc;
    rc = alloc_bufs(ctx, &s, hw, c, nh, nt, b->hidden);
    if (rc) return rc;
    if ((rc = cpb_bias(b, ws, s.bias))) return rc;
    memcpy(s.qkv_b, b->q_bias, c * sizeof(float));
    memset(s.qkv_b + c, 0, c * sizeof(float));
    memcpy(s.qkv_b + 2 * c, b->v_bias, c * sizeof(float));
    for (int hh = 0; hh < nh; hh++)
        s.scale[hh] = expf(fminf(b->logit_scale[hh], logf(100.0f)));
    int threads = ctx->pool ? nn_pool_threads(ctx->pool) : 1;
    swin_job j = {b,    &s,    NULL, 0,  threads < nwin ? threads : nwin, c, h, w, ws, nh, hd, nt,
                  nwin, shift, 0,    hw, {0},  0};
    nn_attn_kernels_get(&j.k, 1);
#if defined(__x86_64__) && defined(__GNUC__) && !defined(NN_NO_CLONES)
    j.avx2 = __builtin_cpu_supports("avx2");
#endif
    /* a backend that keeps tensors elsewhere runs the gathers and the attention itself */
    const nn_ops *ops = ctx->ops;
    int own = ops->swin_rows && ops->window_attention;
    for (int bi = 0; bi < x->shape[0]; bi++) {
        j.img = x->data + (size_t)bi * c * hw;
        rc = own ? ops->swin_rows(ctx, j.img, s.tok, c, h, w, ws, shift, 1)
                 : swin_run(ctx, &j, SWIN_IN);
        if (rc) return rc;
        nn_matmul_params mp = {1, (int)rows, 3 * c, c, 1, 1};
        if ((rc = nn_matmul(ctx, &mp, s.tok, b->qkv_w, s.qkv_b, s.qkv))) return rc;
        rc = own ? ops->window_attention(ctx, s.qkv, s.bias, s.scale, c, h, w, ws, nh, shift,
                                         s.merged)
                 : swin_run(ctx, &j, SWIN_ATTENTION);
        if (rc) return rc;
        nn_matmul_params pp = {1, (int)rows, c, c, 1, 1};
        if ((rc = nn_matmul(ctx, &pp, s.merged, b->proj_w, b->proj_b, s.proj))) return rc;
        /* x = x + LN1(attn), then x = x + LN2(MLP(x)) (res-post-norm) */
        int tshape[2] = {(int)hw, c};
        nn_tensor a = nn_tensor_view(s.proj, 2, tshape), t = nn_tensor_view(s.tok, 2, tshape);
        if ((rc = nn_layer_norm_add(ctx, &a, b->norm1_w, b->norm1_b, 1e-5f, &t))) return rc;
        nn_matmul_params f1 = {1, (int)hw, b->hidden, c, 1, 1};
        if ((rc = nn_matmul(ctx, &f1, s.tok, b->fc1_w, b->fc1_b, s.mlp))) return rc;
        int mshape[2] = {(int)hw, b->hidden};
        nn_tensor m = nn_tensor_view(s.mlp, 2, mshape);
        if ((rc = nn_activation(ctx, NN_ACT_GELU, 0.0f, &m))) return rc;
        nn_matmul_params f2 = {1, (int)hw, c, b->hidden, 1, 1};
        a = nn_tensor_view(s.win, 2, tshape);
        if ((rc = nn_matmul(ctx, &f2, s.mlp, b->fc2_w, b->fc2_b, s.win)) ||
            (rc = nn_layer_norm_add(ctx, &a, b->norm2_w, b->norm2_b, 1e-5f, &t)))
            return rc;
        rc = own ? ops->swin_rows(ctx, j.img, s.tok, c, h, w, ws, shift, 0)
                 : swin_run(ctx, &j, SWIN_OUT);
        if (rc) return rc;
    }
    return NN_OK;
}
