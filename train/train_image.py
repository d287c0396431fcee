#!/usr/bin/env python3
"""Train an image model within a wall-clock budget; seeded, logged, checkpointed, resumable.

  python3 train/train_image.py --model img-wave --minutes 120 --out train/runs/wave1
  python3 train/train_image.py --model img-wave --minutes 60 --out train/runs/wave1 --resume

Schedule (each run plans over its own --minutes): Adam at --lr; during the last
--decay-frac of the run the learning rate decays (cosine) to lr/10; during the last
--qat-frac the integer hyper-synthesis h_s is calibrated and trained with fake
quantisation (straight-through), and stays quantised from then on (also after --resume).
Each batch trains one quality level, drawn uniformly; loss = lambda_q * MSE(0..255) + bpp.
"""
import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import LAMBDAS, ImgWave  # noqa: E402
from pack_images import load_pack  # noqa: E402


def build_model(name, cfg=None, state=None):
    """Model `name` with config `cfg`; a state dict from before the mean-scale h_s
    (no h_s.mean_layer) selects hs_mean=False."""
    cfg = dict(cfg or {})
    if state is not None and "h_s.layers.0.conv.weight" in state and "h_s.mean_layer.conv.weight" not in state:
        cfg["hs_mean"] = False
    if name == "img-wave":
        return ImgWave(**cfg), cfg
    if name == "img-swin":  # img-wave with Swin-V2 stages in g_a and g_s (models.py)
        cfg.setdefault("swin_a", 2)
        cfg.setdefault("swin_s", 2)
        return ImgWave(**cfg), cfg
    raise SystemExit("unknown model " + name)


def batch_from(crops, rng, bs, patch, device):
    n, s = crops.shape[0], crops.shape[1]
    idx = rng.integers(0, n, bs)
    out = np.empty((bs, patch, patch, 3), dtype=np.uint8)
    for i, j in enumerate(idx):
        y0 = rng.integers(0, s - patch + 1)
        x0 = rng.integers(0, s - patch + 1)
        c = crops[j, y0:y0 + patch, x0:x0 + patch]
        if rng.integers(2):
            c = c[:, ::-1]
        if rng.integers(2):
            c = c[::-1]
        if rng.integers(2):
            c = c.transpose(1, 0, 2)
        out[i] = c
    x = torch.from_numpy(out).to(device).permute(0, 3, 1, 2).float() / 255.0
    return x


class PackSampler:
    """Random crops from whole images held on the training device (a pack_images.py folder)."""

    def __init__(self, folder, device, patch):
        imgs = [a for a in load_pack(folder, patch)]
        self.imgs = [torch.from_numpy(np.array(a)).to(device) for a in imgs]
        area = np.array([a.shape[0] * a.shape[1] for a in imgs], dtype=np.float64)
        self.p = area / area.sum()
        print("pack %s: %d images, %.1f Mpixel" % (folder, len(imgs), area.sum() / 1e6), flush=True)

    def batch(self, rng, bs, patch):
        out = []
        for j in rng.choice(len(self.imgs), bs, p=self.p):
            im = self.imgs[j]
            y0 = int(rng.integers(0, im.shape[0] - patch + 1))
            x0 = int(rng.integers(0, im.shape[1] - patch + 1))
            c = im[y0:y0 + patch, x0:x0 + patch]
            if rng.integers(2):
                c = c.flip(1)
            if rng.integers(2):
                c = c.flip(0)
            if rng.integers(2):
                c = c.transpose(0, 1)
            out.append(c)
        return torch.stack(out).permute(0, 3, 1, 2).float() / 255.0


def save_light(prefix, state, part_mib=15):
    """Model-only checkpoint (no optimiser state) split into parts of at most part_mib MiB,
    so that it comes back from a lent GPU machine (16 MiB per file):
    cat PREFIX.part* > ckpt.pt  gives a checkpoint that --init and export.py read."""
    import io
    buf = io.BytesIO()
    torch.save({k: v for k, v in state.items() if k != "opt"}, buf)
    data = buf.getvalue()
    for old in [f for f in os.listdir(os.path.dirname(prefix) or ".") if f.startswith(os.path.basename(prefix) + ".part")]:
        os.remove(os.path.join(os.path.dirname(prefix) or ".", old))
    step = part_mib * 2**20
    for i in range(0, len(data), step):
        with open("%s.part%d" % (prefix, i // step), "wb") as f:
            f.write(data[i:i + step])


def save_ckpt(path, state):
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="img-wave", choices=["img-wave", "img-swin"])
    ap.add_argument("--minutes", type=float, required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init", help="start from this checkpoint's weights (fresh optimiser)")
    ap.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "cache", "crops128.npy"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--patch", type=int, default=128)
    ap.add_argument("--patch-sizes", help="comma-separated patch sizes, one drawn per batch (default: --patch); "
                    "e.g. 112,128 so that img-swin's Swin blocks also train on maps padded to whole windows")
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--fast-lr-mult", type=float, default=10.0, help="lr multiplier of gains and z density")
    ap.add_argument("--swin-lr-mult", type=float, default=1.0, help="lr multiplier of the Swin stages")
    ap.add_argument("--freeze", default="", help="comma-separated name prefixes of parameters kept as they are, "
                    "e.g. h_s.,ctx. (fine-tuning img-swin from img-wave: left to train, the integer layers in "
                    "fake-quant drifted and raised the training loss by 2 %%)")
    ap.add_argument("--decay-frac", type=float, default=0.2)
    ap.add_argument("--qat-frac", type=float, default=0.1)
    ap.add_argument("--warmup-frac", type=float, default=0.0, help="linear lr warm-up over this part of the run")
    ap.add_argument("--ckpt-minutes", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=200)
    ap.add_argument("--config", default="{}", help="JSON model config for a fresh run")
    ap.add_argument("--lambdas", help="JSON list of the levels' lambdas for a fresh or --init run "
                    "(default models.LAMBDAS; a resumed run keeps its checkpoint's)")
    ap.add_argument("--light", help="also write a model-only checkpoint in <=15 MiB parts with this prefix")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)  # denormals slow the CPU down by orders of magnitude
    os.makedirs(a.out, exist_ok=True)
    ckpt_path = os.path.join(a.out, "ckpt.pt")
    dev = torch.device(a.device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    if os.path.isdir(a.data):
        sampler = PackSampler(a.data, dev, a.patch)
        crops = None
    else:
        sampler = None
        crops = np.load(a.data, mmap_mode="r")
        assert crops.shape[1] >= a.patch

    resume = a.resume and os.path.exists(ckpt_path)
    if resume:
        st = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model, cfg = build_model(st["model_name"], st["config"], st["model"])
        model.load_state_dict(st["model"])
        if st.get("hs_quant"):
            model.h_s.quant = True
        if st.get("ctx_quant"):
            model.ctx.quant = True
        step, trained_s = st["step"], st["trained_seconds"]
        lambdas = list(st.get("lambdas", LAMBDAS))
        prior = st.get("prior", dict(steps=0, seconds=0.0))
        seed = st["seed"] + step  # a resumed run draws new batches
        print("resumed from", ckpt_path, "step", step, "trained %.1f min" % (trained_s / 60), flush=True)
    else:
        seed = a.seed
        torch.manual_seed(seed)
        cfg = json.loads(a.config)
        st0 = torch.load(a.init, map_location="cpu", weights_only=False) if a.init else None
        lambdas = json.loads(a.lambdas) if a.lambdas else list(st0.get("lambdas", LAMBDAS) if st0 else LAMBDAS)
        cfg.setdefault("levels", len(lambdas))
        # training before --init (steps and seconds of the checkpoint it starts from, and its own prior)
        p0 = st0.get("prior", dict(steps=0, seconds=0.0)) if st0 else dict(steps=0, seconds=0.0)
        prior = dict(steps=p0["steps"] + (st0["step"] if st0 else 0),
                     seconds=p0["seconds"] + (st0["trained_seconds"] if st0 else 0.0))
        if st0 is not None:
            # the architecture of the checkpoint it starts from, with --config's overrides
            cfg = dict(st0["config"], **cfg)
        model, cfg = build_model(a.model, cfg, st0["model"] if st0 is not None else None)
        if st0 is not None:
            if "h_s.mean_layer.conv.weight" not in st0["model"]:
                # a checkpoint from before the mean-scale h_s: add the mean layer, starting at
                # zero (mean 0 is exactly the old model)
                cfg["hs_mean"] = True
                model, cfg = build_model(a.model, cfg)
                nn_mean = model.h_s.mean_layer.conv
                torch.nn.init.zeros_(nn_mean.weight)
                torch.nn.init.zeros_(nn_mean.bias)
            missing, unexpected = model.load_state_dict(st0["model"], strict=False)
            if missing or unexpected:
                print("init: missing", missing, "unexpected", unexpected, flush=True)
            model.h_s.quant = bool(st0.get("hs_quant"))
            if getattr(model, "ctx", None) is not None and any(k.startswith("ctx.") for k in missing):
                # a checkpoint without the context model: start exactly as its h_s
                model.ctx.init_from(model.h_s)
                print("init: checkerboard context starts as h_s", flush=True)
            if getattr(model, "ctx", None) is not None:
                model.ctx.quant = bool(st0.get("ctx_quant"))
        elif hasattr(model, "init_pca"):
            if crops is None:
                crops = np.stack([sampler.batch(np.random.default_rng(seed), 1, 128)[0].permute(1, 2, 0).mul(255).round()
                                  .byte().cpu().numpy() for _ in range(1000)])
            rng0 = np.random.default_rng(seed)
            sel = np.sort(rng0.choice(len(crops), min(len(crops), 1000), replace=False))
            ev = model.init_pca(np.asarray(crops[sel]))
            print("PCA eigenvalues (top 8):", [round(float(v), 1) for v in ev[:8]],
                  "kept energy %.5f" % float(ev[:model.latent].sum() / ev.sum()), flush=True)
        step, trained_s = 0, 0.0
    model.to(dev).train()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)

    # gains and the factorized density move ~lr per Adam step; at the base lr they would need
    # thousands of steps per e-fold, so they get a larger learning rate
    # (and the Swin stages added to a trained img-wave may learn faster than the rest: --swin-lr-mult)
    fast_names = ("log_gain", "log_inv_gain", "prior_z.")
    swin_names = ("enc_swin.", "dec_swin.")
    frozen = tuple(p for p in a.freeze.split(",") if p)
    named = []
    for n, p in model.named_parameters():
        if frozen and n.startswith(frozen):
            p.requires_grad_(False)
        else:
            named.append((n, p))
    fast = [p for n, p in named if n.startswith(fast_names)]
    swin = [p for n, p in named if n.startswith(swin_names)]
    slow = [p for n, p in named if not n.startswith(fast_names + swin_names)]
    groups = [dict(params=slow, lr=a.lr, mult=1.0), dict(params=fast, lr=a.lr * a.fast_lr_mult, mult=a.fast_lr_mult)]
    if swin:
        groups.append(dict(params=swin, lr=a.lr * a.swin_lr_mult, mult=a.swin_lr_mult))
    opt = torch.optim.Adam(groups)
    if resume and "opt" in st:
        try:
            opt.load_state_dict(st["opt"])
        except ValueError as e:  # parameter set changed: start the optimiser afresh
            print("optimiser state not loaded:", e, flush=True)
    patch_sizes = [int(v) for v in a.patch_sizes.split(",")] if a.patch_sizes else [a.patch]
    assert max(patch_sizes) <= (crops.shape[1] if crops is not None else a.patch), "patch larger than the crops"
    n_levels = len(lambdas)
    assert n_levels == model.log_gain.shape[0], "lambdas and the model's quality levels differ"
    budget = a.minutes * 60.0
    t0 = time.time()
    last_ckpt = t0
    stats = {q: [0.0, 0.0, 0.0, 0.0] for q in range(n_levels)}  # count, bpp, mse, bpp_z
    last_log, last_log_step = t0, step
    print("model", a.model, json.dumps(cfg), "params", sum(p.numel() for p in model.parameters()),
          "decoder MACs/pixel (g_s, h_s)", model.decoder_macs_per_pixel(), flush=True)

    def state():
        return dict(model_name=a.model if not resume else st["model_name"], config=cfg,
                    model=model.state_dict(), opt=opt.state_dict(), step=step,
                    trained_seconds=trained_s + (time.time() - t0), seed=a.seed if not resume else st["seed"],
                    hs_quant=bool(model.h_s.quant), lambdas=lambdas, prior=prior,
                    ctx_quant=bool(getattr(model, "ctx", None) is not None and model.ctx.quant),
                    args=vars(a))

    while True:
        el = time.time() - t0
        frac = el / budget
        if frac >= 1.0:
            break
        # schedule
        dstart = 1.0 - a.decay_frac
        lr = a.lr if frac < dstart else a.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (frac - dstart) / a.decay_frac)))
        if frac < a.warmup_frac:
            lr *= max(0.01, frac / a.warmup_frac)
        for g in opt.param_groups:
            g["lr"] = lr * g["mult"]
        if not model.h_s.quant and frac >= 1.0 - a.qat_frac:
            model.h_s.calibrate()
            model.h_s.quant = True
            print("step %d: h_s switched to integer fake-quant (QAT)" % step, flush=True)
        ctx = getattr(model, "ctx", None)
        if ctx is not None and not ctx.quant and model.h_s.quant and frac >= 1.0 - a.qat_frac:
            ctx.calibrate(model.h_s)
            ctx.quant = True
            print("step %d: checkerboard context switched to integer fake-quant (QAT)" % step, flush=True)

        q = int(rng.integers(n_levels))
        patch = patch_sizes[int(rng.integers(len(patch_sizes)))] if len(patch_sizes) > 1 else a.patch
        x = sampler.batch(rng, a.batch, patch) if sampler else batch_from(crops, rng, a.batch, patch, dev)
        x_hat, bits_y, bits_z = model(x, q)
        npix = x.shape[0] * x.shape[2] * x.shape[3]
        mse = ((x_hat - x) * 255.0).pow(2).mean()
        bpp = (bits_y + bits_z) / npix
        loss = lambdas[q] * mse + bpp
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        step += 1
        s = stats[q]
        s[0] += 1
        s[1] += float(bpp.detach())
        s[2] += float(mse.detach())
        s[3] += float(bits_z.detach()) / npix

        now = time.time()
        if step % a.log_every == 0:
            ips = (step - last_log_step) / (now - last_log)
            parts = []
            for qq in range(n_levels):
                c, b, m, bz = stats[qq]
                if c:
                    parts.append("q%d %.3f(z%.3f)bpp %.2fdB" % (qq, b / c, bz / c, 10 * math.log10(255**2 / (m / c))))
            print("step %d  %.1f min  %.2f it/s  lr %.2e  | %s" % (step, (trained_s + now - t0) / 60, ips, lr,
                                                                "  ".join(parts)), flush=True)
            stats = {qq: [0.0, 0.0, 0.0, 0.0] for qq in range(n_levels)}
            last_log, last_log_step = now, step
        if now - last_ckpt > a.ckpt_minutes * 60:
            save_ckpt(ckpt_path, state())
            if a.light:
                save_light(a.light, state())
            last_ckpt = now
    save_ckpt(ckpt_path, state())
    if a.light:
        save_light(a.light, state())
    print("done: step %d, %.1f min trained in total; checkpoint %s" % (step, state()["trained_seconds"] / 60, ckpt_path),
          flush=True)


if __name__ == "__main__":
    main()
