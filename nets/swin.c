/* Swin-V2 block (see swin.h). The matrix products go through ctx->ops (linear layers and the
 * two attention products); the small pieces (bias table, softmax, gathers) are plain C. */
#define _DEFAULT_SOURCE /* posix_memalign, madvise */
#include "nets/swin.h"

#include "nets/layers.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

static void l2_normalize(float *v, int n)
{
    float s = 0.0f;
    for (int i = 0; i < n; i++)
        s += v[i] * v[i];
    float d = sqrtf(s);
    if (d < 1e-12f) d = 1e-12f;
    for (int i = 0; i < n; i++)
        v[i] = v[i] / d;
}

/* Large work buffers are 2 MiB aligned and advised as transparent huge pages where the system
 * offers them (Linux madvise mode): the first touch of a few hundred MB then takes a few
 * hundred faults instead of ~10^5 (the kernel's 4 KiB page faults were ~10 % of img-swin's
 * decode time). Contents are unspecified, as with malloc; free() releases the block. */
static void *big_alloc(size_t bytes)
{
    enum { HUGE_PAGE = 2 << 20 };
    if (bytes < 4 * (size_t)HUGE_PAGE) return malloc(bytes);
    void *p = NULL;
    if (posix_memalign(&p, HUGE_PAGE, bytes)) return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, bytes / HUGE_PAGE * HUGE_PAGE, MADV_HUGEPAGE); /* whole pages */
#endif
    return p;
}

/* Work buffers, carved from one allocation. Buffers whose lifetimes do not overlap share
 * memory (fewer pages to touch): o and proj live in qkv (dead once the heads are split),
 * merged in q (dead after q k^T), and the MLP's hidden activations in attn (dead after
 * attn v). */
typedef struct bufs {
    float *tok, *win, *qkv, *q, *k, *v, *attn, *o, *merged, *proj, *bias, *qkv_b, *mlp;
} bufs;

static int alloc_bufs(bufs *s, nn_swin_work *work, size_t hw, int c, int nh, int nt, int nwin,
                      int hidden)
{
    size_t rc_ = hw * (size_t)c, attn = (size_t)nwin * nh * nt * nt;
    size_t mlp = hw * (size_t)(hidden > c ? hidden : c);
    size_t big = attn > mlp ? attn : mlp;
    size_t total = 8 * rc_ + big + (size_t)nh * nt * nt + 3 * (size_t)c;
    if (work->cap < total) {
        free(work->buf);
        work->cap = 0;
        work->buf = big_alloc(total * sizeof(float));
        if (!work->buf) return NN_ERR_NOMEM;
        work->cap = total;
    }
    float *at = work->buf;
    s->tok = at;
    s->win = at + rc_;
    s->qkv = at + 2 * rc_;
    s->o = s->qkv;
    s->proj = s->qkv + rc_;
    s->q = at + 5 * rc_;
    s->merged = s->q;
    s->k = at + 6 * rc_;
    s->v = at + 7 * rc_;
    s->attn = at + 8 * rc_;
    s->mlp = s->attn;
    s->bias = s->attn + big;
    s->qkv_b = s->bias + (size_t)nh * nt * nt;
    return NN_OK;
}

void nn_swin_work_free(nn_swin_work *work)
{
    if (!work) return;
    free(work->buf);
    work->buf = NULL;
    work->cap = 0;
}

/* dst[p][c] = src[c][p] for p < n, in blocks of TB positions so that the TB rows written stay
 * in cache while every channel is visited (a plain channel-outer loop misses on every store). */
enum { TB = 32 };
static void to_tokens(const float *src, size_t n, int c, float *dst)
{
    for (size_t p0 = 0; p0 < n; p0 += TB) {
        size_t p1 = p0 + TB < n ? p0 + TB : n;
        for (int ch = 0; ch < c; ch++) {
            const float *sp = src + (size_t)ch * n;
            for (size_t p = p0; p < p1; p++)
                dst[p * c + ch] = sp[p];
        }
    }
}

static void from_tokens(const float *src, size_t n, int c, float *dst)
{
    for (size_t p0 = 0; p0 < n; p0 += TB) {
        size_t p1 = p0 + TB < n ? p0 + TB : n;
        for (int ch = 0; ch < c; ch++) {
            float *dp = dst + (size_t)ch * n;
            for (size_t p = p0; p < p1; p++)
                dp[p] = src[p * c + ch];
        }
    }
}

int nn_swin_block_forward(nn_context *ctx, const nn_swin_block *b, nn_tensor *x)
{
    return nn_swin_block_forward_ex(ctx, b, x, 0);
}

int nn_swin_block_forward_ex(nn_context *ctx, const nn_swin_block *b, nn_tensor *x,
                             int keep_shift)
{
    nn_swin_work work = {0};
    int rc = nn_swin_block_forward_ws(ctx, b, x, keep_shift, &work);
    nn_swin_work_free(&work);
    return rc;
}

int nn_swin_block_forward_ws(nn_context *ctx, const nn_swin_block *b, nn_tensor *x,
                             int keep_shift, nn_swin_work *work)
{
    if (!work) return NN_ERR_ARG;
    if (!b || !x || !x->data || x->ndim != 4 || x->shape[1] != b->dim || b->heads < 1 ||
        b->dim % b->heads || b->window < 1 || b->shift < 0 || b->shift >= b->window ||
        b->hidden < 1 || b->cpb_hidden < 1)
        return NN_ERR_ARG;
    int c = b->dim, h = x->shape[2], w = x->shape[3], ws = b->window, nh = b->heads;
    if (h % ws || w % ws || (size_t)h * w > (size_t)INT_MAX / 4) return NN_ERR_ARG;
    int shift = (h <= ws && w <= ws && !keep_shift) ? 0 : b->shift;
    int hd = c / nh, nt = ws * ws, nwin = (h / ws) * (w / ws);
    size_t hw = (size_t)h * w, rows = hw; /* every token is in exactly one window */
    bufs s = {0};
    int rc = alloc_bufs(&s, work, hw, c, nh, nt, nwin, b->hidden);
    if (rc) return rc;
    int *lab = malloc((size_t)nt * sizeof *lab); /* region label of a window's tokens */
    if (!lab) return NN_ERR_NOMEM;
    if ((rc = cpb_bias(b, ws, s.bias))) goto done;
    memcpy(s.qkv_b, b->q_bias, c * sizeof(float));
    memset(s.qkv_b + c, 0, c * sizeof(float));
    memcpy(s.qkv_b + 2 * c, b->v_bias, c * sizeof(float));
    for (int bi = 0; bi < x->shape[0]; bi++) {
        float *img = x->data + (size_t)bi * c * hw;
        to_tokens(img, hw, c, s.tok); /* NCHW -> tokens [hw][c] */
        /* Gather shifted windows: window (wy, wx), token (i, j) of the map rolled by -shift. */
        size_t r = 0;
        for (int wy = 0; wy < h / ws; wy++)
            for (int wx = 0; wx < w / ws; wx++)
                for (int i = 0; i < ws; i++)
                    for (int j = 0; j < ws; j++, r++) {
                        int yy = (wy * ws + i + shift) % h, xx = (wx * ws + j + shift) % w;
                        memcpy(s.win + r * c, s.tok + ((size_t)yy * w + xx) * c, c * sizeof(float));
                    }
        nn_matmul_params mp = {1, (int)rows, 3 * c, c, 1, 1};
        if ((rc = nn_matmul(ctx, &mp, s.win, b->qkv_w, s.qkv_b, s.qkv))) goto done;
        /* Split heads: q/k/v [window][head][token][hd]; q and k L2-normalised. */
        for (int wi = 0; wi < nwin; wi++)
            for (int hh = 0; hh < nh; hh++)
                for (int t = 0; t < nt; t++) {
                    const float *src = s.qkv + ((size_t)wi * nt + t) * 3 * c + (size_t)hh * hd;
                    size_t at = (((size_t)wi * nh + hh) * nt + t) * hd;
                    memcpy(s.q + at, src, hd * sizeof(float));
                    memcpy(s.k + at, src + c, hd * sizeof(float));
                    memcpy(s.v + at, src + 2 * c, hd * sizeof(float));
                    l2_normalize(s.q + at, hd);
                    l2_normalize(s.k + at, hd);
                }
        nn_matmul_params ap = {nwin * nh, nt, nt, hd, 1, 0};
        if ((rc = nn_matmul(ctx, &ap, s.q, s.k, NULL, s.attn))) goto done;
        for (int wi = 0; wi < nwin; wi++) {
            int wy = wi / (w / ws), wx = wi % (w / ws);
            if (shift)
                for (int j = 0; j < nt; j++)
                    lab[j] = region(wy * ws + j / ws, h, ws, shift) * 3 +
                             region(wx * ws + j % ws, w, ws, shift);
            for (int hh = 0; hh < nh; hh++) {
                float scale = expf(fminf(b->logit_scale[hh], logf(100.0f)));
                for (int i = 0; i < nt; i++) {
                    float *row = s.attn + (((size_t)wi * nh + hh) * nt + i) * nt;
                    const float *brow = s.bias + ((size_t)hh * nt + i) * nt;
                    int li = shift ? lab[i] : 0;
                    float mx = -INFINITY;
                    for (int j = 0; j < nt; j++) {
                        float v = row[j] * scale + brow[j];
                        if (shift && lab[j] != li) v = v + -100.0f;
                        row[j] = v;
                        mx = v > mx ? v : mx;
                    }
                    /* The exponentials first, then their sum in the same order: the call
                     * loop keeps no live float across expf (no spill), the sum vectorises
                     * not, so the result is that of the fused loop, bit for bit. */
                    for (int j = 0; j < nt; j++)
                        row[j] = expf(row[j] - mx);
                    float sum = 0.0f;
                    for (int j = 0; j < nt; j++)
                        sum += row[j];
                    for (int j = 0; j < nt; j++)
                        row[j] = row[j] / sum;
                }
            }
        }
        nn_matmul_params op = {nwin * nh, nt, hd, nt, 0, 0};
        if ((rc = nn_matmul(ctx, &op, s.attn, s.v, NULL, s.o))) goto done;
        for (int wi = 0; wi < nwin; wi++) /* merge heads: channel = head * hd + d */
            for (int hh = 0; hh < nh; hh++)
                for (int t = 0; t < nt; t++)
                    memcpy(s.merged + ((size_t)wi * nt + t) * c + (size_t)hh * hd,
                           s.o + (((size_t)wi * nh + hh) * nt + t) * hd, hd * sizeof(float));
        nn_matmul_params pp = {1, (int)rows, c, c, 1, 1};
        if ((rc = nn_matmul(ctx, &pp, s.merged, b->proj_w, b->proj_b, s.proj))) goto done;
        /* Scatter back (reverse the roll) into win as [hw][c], then x = x + LN1(attn). */
        r = 0;
        for (int wy = 0; wy < h / ws; wy++)
            for (int wx = 0; wx < w / ws; wx++)
                for (int i = 0; i < ws; i++)
                    for (int j = 0; j < ws; j++, r++) {
                        int yy = (wy * ws + i + shift) % h, xx = (wx * ws + j + shift) % w;
                        memcpy(s.win + ((size_t)yy * w + xx) * c, s.proj + r * c,
                               c * sizeof(float));
                    }
        int tshape[2] = {(int)hw, c};
        nn_tensor a = nn_tensor_view(s.win, 2, tshape), t = nn_tensor_view(s.tok, 2, tshape);
        if ((rc = nn_layer_norm(ctx, &a, b->norm1_w, b->norm1_b, 1e-5f)) ||
            (rc = nn_add(ctx, &t, &a, &t)))
            goto done;
        nn_matmul_params f1 = {1, (int)hw, b->hidden, c, 1, 1};
        if ((rc = nn_matmul(ctx, &f1, s.tok, b->fc1_w, b->fc1_b, s.mlp))) goto done;
        int mshape[2] = {(int)hw, b->hidden};
        nn_tensor m = nn_tensor_view(s.mlp, 2, mshape);
        if ((rc = nn_activation(ctx, NN_ACT_GELU, 0.0f, &m))) goto done;
        nn_matmul_params f2 = {1, (int)hw, c, b->hidden, 1, 1};
        if ((rc = nn_matmul(ctx, &f2, s.mlp, b->fc2_w, b->fc2_b, s.win))) goto done;
        if ((rc = nn_layer_norm(ctx, &a, b->norm2_w, b->norm2_b, 1e-5f)) ||
            (rc = nn_add(ctx, &t, &a, &t)))
            goto done;
        from_tokens(s.tok, hw, c, img); /* tokens -> NCHW */
    }
    rc = NN_OK;
done:
    free(lab);
    return rc;
}
