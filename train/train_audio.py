#!/usr/bin/env python3
"""Train neco's audio models.

  nohup nice -n 12 python3 train/train_audio.py --model aud-wave --minutes 60 > train/runs/aud-wave/log 2>&1 &
  python3 train/train_audio.py --model aud-wave --minutes 30 --resume     # continues the run

aud-wave: loss = bits per sample + lambda_q * MSE (waveform in [-1, 1)), the quality level q
drawn per batch; each level's lambda is steered by a rate controller towards the level's
nominal rate (audio_models.TARGET_KBPS), so one weights file spans 32..160 kbps per channel.
Quantisation: additive uniform noise for the rate term, straight-through rounding for the
decoder input (the "mixed" proxy of Minnen & Singh 2020).  Checkpoints (train/runs/<model>/
ckpt.pt) every few minutes and at the end; --resume continues from the last one (time budget
counts only the new run).

aud-grvq: loss = DAC mel distance + 0.25 commitment (+ --wave-weight x waveform L1, + --adv x the
adversarial terms of grvq_adv.py, + --pesq x the PESQ-like disturbance of pesq_proxy.py).  The
shipped weights' last runs were PESQ fine-tunes:
  python3 train/train_audio.py --model aud-grvq --init train/checkpoints/aud-grvq.pt --pesq 1 \
      --lr 1e-4 --minutes 30 --run train/runs/grvq_pesq1
The formant postfilter (postfilter.py) of a checkpoint is kept for the export; --postfilter puts
one into the training loop (both terms see it), --pesq-postfilter only the PESQ term.
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audio_models as am  # noqa: E402
from audio_data import CropSampler  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


_MEL = {}


def mel_loss(x, y, sr=am.RATE):
    """Per-item DAC mel distance (eval_audio.mel_distance, differentiable): the sum over the 7
    scales of the L1 distance of log10(max(mel, 1e-5)).  Penalises the spectral holes that
    MSE-optimal quantisation leaves (Kumar et al. 2023 use it as their main loss)."""
    from eval_audio import mel_filters
    total = 0.0
    for n_mels, win in zip((5, 10, 20, 40, 80, 160, 320), (32, 64, 128, 256, 512, 1024, 2048)):
        key = (n_mels, win, x.device, sr)
        if key not in _MEL:
            _MEL[key] = (mel_filters(sr, win, n_mels).to(x.device), torch.hann_window(win, device=x.device))
        fb, w = _MEL[key]
        logs = []
        for s in (x, y):
            spec = torch.stft(s, win, hop_length=win // 4, window=w, center=True, pad_mode="reflect",
                              return_complex=True).abs()
            logs.append(torch.log10((fb @ spec).clamp_min(1e-5)))
        total = total + (logs[0] - logs[1]).abs().mean(dim=(1, 2))
    return total


def tail_cosine(frac, tail):
    """Learning-rate factor at fraction `frac` of the run budget: 1, then a cosine decay to 0.1
    over the last `tail` of the budget."""
    if frac < 1 - tail:
        return 1.0
    return 0.5 * (1 + math.cos(math.pi * (frac - (1 - tail)) / tail)) * 0.9 + 0.1


def train_grvq(a):
    """aud-grvq: loss = DAC mel distance + 0.25 commitment; the number of residual stages is
    drawn per item (quantiser dropout), so one model serves every quality level.  Codebooks are
    EMA-updated inside the model's forward pass (grvq_models.GRVQ)."""
    import grvq_models as gm
    from audio_data import SPEECH16
    torch.set_num_threads(a.threads)
    run = a.run or os.path.join(HERE, "runs", a.model)
    os.makedirs(run, exist_ok=True)
    ckpt_path = os.path.join(run, "ckpt.pt")
    dev = torch.device(a.device)
    torch.manual_seed(a.seed)
    src = a.init if a.init else (ckpt_path if a.resume and os.path.exists(ckpt_path) else None)
    st = torch.load(src, map_location=dev, weights_only=False) if src else None
    # the postfilter is in the loop only when --postfilter names one (that was tried: the mel
    # term then learns to undo it, MODELS.md); the checkpoint keeps the source's for the export
    import postfilter
    pf = postfilter.parse(a.postfilter)
    pf_keep = pf or (tuple(st.get("postfilter", ())) if st is not None else ())
    model = gm.AudGrvq(pf).to(dev)
    if a.decoder_only:  # the encoder and the codebooks stay as they are (no EMA updates, no restarts)
        for n, p in model.named_parameters():
            p.requires_grad_(n.startswith("dec_"))
        model.vq.train(False)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=a.lr, betas=(0.8, 0.99))
    pesq = None
    if a.pesq > 0:  # pesq_proxy.py: differentiable PESQ-like disturbance (16 kHz speech)
        if a.rate != 16000:
            raise SystemExit("--pesq needs the 16 kHz model (PESQ-WB is a 16 kHz speech measure)")
        import pesq_proxy
        pesq = pesq_proxy.PesqLoss(1.0, sample_rate=16000).to(dev)
    disc = d_opt = None
    if a.adv > 0:  # grvq_adv.py: multi-scale STFT discriminator, hinge + feature matching
        import grvq_adv
        disc = grvq_adv.MultiStftDisc().to(dev)
        d_opt = torch.optim.Adam(disc.parameters(), lr=a.d_lr, betas=(0.5, 0.9))
    step, trained = 0, 0.0
    length = -(-a.length // gm.HOP) * gm.HOP  # whole latent frames (the default 8192 -> 8320)
    # 16 kHz: speech (audio_data.SPEECH16); 24 kHz general audio: music, speech and drums at the
    # default shares (a root made by pack_audio.py); the model is the same, only the mel loss's
    # filters depend on the rate
    shares = {"emodb": 0.4, "klettres": 0.3, "ktuberling": 0.3} if a.rate == 16000 else None
    sampler = CropSampler("train", length, seed=a.seed + int(time.time()) % 100000, root=a.data or SPEECH16,
                          shares=shares)
    if src:
        model.load_state_dict(st["model"])
        if "opt" in st and not a.init:
            opt.load_state_dict(st["opt"])
        if disc is not None and "disc" in st:
            disc.load_state_dict(st["disc"])
            if "disc_opt" in st and not a.init:
                d_opt.load_state_dict(st["disc_opt"])
        if not a.init:
            step, trained = st["step"], st["trained_seconds"]
        print("resumed from %s at step %d (%.1f min trained)" % (src, st["step"], st["trained_seconds"] / 60), flush=True)

    def save():
        tmp = ckpt_path + ".tmp"
        extra = {} if disc is None else dict(disc=disc.state_dict(), disc_opt=d_opt.state_dict())
        torch.save(dict(model=model.state_dict(), opt=opt.state_dict(), step=step, trained_seconds=trained,
                        model_id=a.model, rate=a.rate, postfilter=list(pf_keep), **extra), tmp)
        os.replace(tmp, ckpt_path)

    t_start = t_last_ckpt = t_log = time.time()
    budget = a.minutes * 60
    ema = {}
    while True:
        now = time.time()
        if now - t_start >= budget or (a.steps and step >= a.steps):
            break
        frac = (now - t_start) / budget
        lr = a.lr * tail_cosine(frac, 0.2)
        for g in opt.param_groups:
            g["lr"] = lr
        x = torch.from_numpy(sampler.batch(a.batch)).to(dev)
        ns = torch.randint(gm.MIN_STAGES, gm.STAGES + 1, (a.batch,), device=dev)
        x_hat, _, commit = model(x, ns)
        mel = mel_loss(x, x_hat, a.rate)
        loss = (mel + 0.25 * commit).mean()
        if pesq is not None:
            # only crops with speech in them: the loss aligns levels, a near-silent crop divides by ~0
            live = x.pow(2).mean(dim=1) > 1e-5
            if live.any():
                y = x_hat[live]
                if a.pesq_postfilter and pf_keep:  # the PESQ term sees the shipped postfilter
                    y = postfilter.apply(y, *pf_keep)
                lp = pesq(x[live], y).mean()
                loss = loss + a.pesq * lp
                lv = float(lp.detach())
                ema["pesq"] = 0.95 * ema.get("pesq", lv) + 0.05 * lv
        if a.wave_weight > 0:  # waveform L1 (EnCodec's time-domain term): pulls the phase along
            loss = loss + a.wave_weight * (x_hat - x).abs().mean()
        if disc is not None:
            # the discriminator's step on this batch first, then the generator's adversarial and
            # feature-matching terms (weights adv and 2 adv) through the updated discriminator
            d_opt.zero_grad(set_to_none=True)
            ld = grvq_adv.d_loss(disc, x, x_hat.detach())
            ld.backward()
            d_opt.step()
            g_adv, g_fm = grvq_adv.g_losses(disc, x, x_hat)
            loss = loss + a.adv * (g_adv + 2 * g_fm)
            ema["d"] = 0.95 * ema.get("d", float(ld)) + 0.05 * float(ld)
            ema["g"] = 0.95 * ema.get("g", float(g_adv)) + 0.05 * float(g_adv)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        with torch.no_grad():
            for lv in (gm.MIN_STAGES, gm.STAGES):
                m = ns == lv
                if m.any():
                    ema[lv] = 0.95 * ema.get(lv, float(mel[m].mean())) + 0.05 * float(mel[m].mean())
        step += 1
        trained += time.time() - now
        if time.time() - t_log > 60 or step == 1:
            t_log = time.time()
            dead = float((model.vq.ema_count < 0.1).float().mean())
            print("step %d  %.1f min  lr %.2e  %.2f s/step  mel(%d st) %.3f  mel(%d st) %.3f  commit %.4f  dead %.2f%s" % (
                step, trained / 60, lr, trained / step, gm.MIN_STAGES, ema.get(gm.MIN_STAGES, 0),
                gm.STAGES, ema.get(gm.STAGES, 0), float(commit.detach().mean()), dead,
                ("" if disc is None else "  D %.3f  G %.3f" % (ema.get("d", 0), ema.get("g", 0))) +
                ("" if pesq is None else "  pesq-loss %.3f" % ema.get("pesq", 0))), flush=True)
        if time.time() - t_last_ckpt > a.ckpt_minutes * 60:
            save()
            t_last_ckpt = time.time()
    save()
    print("done: step %d, %.1f min trained, checkpoint %s" % (step, trained / 60, ckpt_path), flush=True)


def build(model_id):
    if model_id != "aud-wave":
        raise SystemExit("unknown audio model %s (this script trains aud-wave)" % model_id)
    return am.AudWave()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="aud-wave")
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--run", default=None, help="run folder (default train/runs/<model>)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--length", type=int, default=8192, help="crop length in samples")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ckpt-minutes", type=float, default=4)
    ap.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: time only)")
    ap.add_argument("--mel-weight", type=float, default=0.0,
                    help="beta of the distortion MSE + beta * (DAC mel distance); 0: MSE only")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--wave-weight", type=float, default=0.0, help="aud-grvq: weight of a waveform L1 term")
    ap.add_argument("--adv", type=float, default=0.0,
                    help="aud-grvq: weight of the adversarial loss (feature matching: twice it; grvq_adv.py)")
    ap.add_argument("--pesq", type=float, default=0.0,
                    help="aud-grvq 16 kHz: weight of the differentiable PESQ-like loss (pesq_proxy.py)")
    ap.add_argument("--decoder-only", action="store_true",
                    help="aud-grvq: train the decoder only (encoder and codebooks frozen)")
    ap.add_argument("--d-lr", type=float, default=1e-4, help="aud-grvq: the discriminator's learning rate")
    ap.add_argument("--init", default=None, help="aud-grvq: start from this checkpoint's weights (new run)")
    ap.add_argument("--rate", type=int, default=16000, choices=(16000, 24000),
                    help="aud-grvq: sample rate (16000: speech; 24000: general audio, needs --data)")
    ap.add_argument("--postfilter", default="",
                    help="aud-grvq: formant postfilter g_n,g_d,mu in the training loop (postfilter.py); "
                         "without it a checkpoint's postfilter is kept for the export but not trained through")
    ap.add_argument("--pesq-postfilter", action="store_true",
                    help="aud-grvq: the PESQ term on the output after the checkpoint's postfilter, "
                         "the mel term before it")
    ap.add_argument("--data", default=None, help="aud-grvq: data root (split/source/*.npy; default the 16 kHz speech)")
    a = ap.parse_args()
    if a.model == "aud-grvq":
        return train_grvq(a)
    torch.set_num_threads(a.threads)
    run = a.run or os.path.join(HERE, "runs", a.model)
    os.makedirs(run, exist_ok=True)
    ckpt_path = os.path.join(run, "ckpt.pt")
    dev = torch.device(a.device)

    model = build(a.model).to(dev)
    targets = torch.tensor([k * 1000 / am.RATE for k in am.TARGET_KBPS], device=dev)  # bits/sample
    log_lam = torch.log(torch.logspace(math.log10(300), math.log10(30000), len(targets), device=dev))
    main_params = [p for n, p in model.named_parameters() if not n.startswith("prior.") and p.requires_grad]
    opt = torch.optim.Adam([{"params": main_params}, {"params": model.prior.parameters(), "prior": True}], lr=a.lr)
    step, trained = 0, 0.0
    sampler = CropSampler("train", a.length, seed=int(time.time()) % 100000)
    if a.resume and os.path.exists(ckpt_path):
        st = torch.load(ckpt_path, map_location=dev, weights_only=False)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        log_lam = st["log_lam"].to(dev)
        step, trained = st["step"], st["trained_seconds"]
        print("resumed at step %d (%.1f min trained)" % (step, trained / 60), flush=True)
    else:
        x = torch.from_numpy(sampler.batch(64)).to(dev)
        ev = model.init_pca(x)
        print("PCA variances:", " ".join("%.2e" % v for v in ev.tolist()), flush=True)

    def save():
        tmp = ckpt_path + ".tmp"
        torch.save(dict(model=model.state_dict(), opt=opt.state_dict(), log_lam=log_lam.cpu(), step=step,
                        trained_seconds=trained, model_id=a.model, targets_kbps=list(am.TARGET_KBPS)), tmp)
        os.replace(tmp, ckpt_path)

    t_start = time.time()
    t_last_ckpt = t_start
    budget = a.minutes * 60
    Q = len(targets)
    ema_rate = targets.clone()
    ema_snr = torch.zeros(Q)
    t_log = time.time()
    while True:
        now = time.time()
        if now - t_start >= budget or (a.steps and step >= a.steps):
            break
        frac = (now - t_start) / budget
        lr = a.lr * tail_cosine(frac, 0.25)
        for g in opt.param_groups:
            g["lr"] = lr * (5 if g.get("prior") else 1)  # the density model must track the gains
        x = torch.from_numpy(sampler.batch(a.batch)).to(dev)
        qi = int(torch.randint(0, Q, (1,)))  # one level per batch (its own density tables)
        q = torch.full((a.batch,), qi, device=dev)
        x_hat, bits = model(x, qi)
        mse = ((x_hat - x) ** 2).mean(dim=1)
        bps = bits / x.shape[1]
        lam = torch.exp(log_lam[q])
        dist = mse + a.mel_weight * mel_loss(x, x_hat) if a.mel_weight > 0 else mse
        loss = (bps + lam * dist).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        with torch.no_grad():
            snr = 10 * torch.log10((x ** 2).mean(dim=1) / mse.clamp_min(1e-12))
            for lv in range(Q):
                m = q == lv
                if m.any():
                    r = bps[m].mean()
                    ema_rate[lv] = 0.9 * ema_rate[lv] + 0.1 * r
                    ema_snr[lv] = 0.9 * ema_snr[lv] + 0.1 * snr[m].mean().cpu()
                    # rate controller: too many bits -> smaller lambda (and vice versa); it waits
                    # until the prior has fitted the latents, moves slowly and stays bounded, so
                    # that an early rate excess cannot wind lambda down to nothing
                    if step >= 400:
                        log_lam[lv] -= 0.015 * torch.log(ema_rate[lv].clamp_min(1e-3) / targets[lv])
                        log_lam[lv].clamp_(math.log(1.0), math.log(1e9))
        step += 1
        trained += time.time() - now
        if time.time() - t_log > 60 or step == 1:
            t_log = time.time()
            print("step %d  %.1f min  lr %.2e  %.2f s/step  kbps %s  snr %s  lambda %s" % (
                step, trained / 60, lr, trained / step, " ".join("%.0f" % v for v in (ema_rate * am.RATE / 1000).tolist()),
                " ".join("%.1f" % v for v in ema_snr.tolist()),
                " ".join("%.0f" % v for v in torch.exp(log_lam).tolist())), flush=True)
        if time.time() - t_last_ckpt > a.ckpt_minutes * 60:
            save()
            t_last_ckpt = time.time()
    save()
    print("done: step %d, %.1f min trained, checkpoint %s" % (step, trained / 60, ckpt_path), flush=True)


if __name__ == "__main__":
    main()
