"""Independent NumPy implementation of SeqSelfAttention's equations (issue 3), for the tests.

Written from the equations, not from the layer: dense (T x T) float64 computation,
window as in the issue, padded keys excluded, empty windows giving zero rows.
"""

import numpy as np

ACTIVATIONS = {
    None: lambda e: e,
    "linear": lambda e: e,
    "sigmoid": lambda e: 1.0 / (1.0 + np.exp(-e)),
    "tanh": np.tanh,
    "relu": lambda e: np.maximum(e, 0.0),
}


def named_weights(cfg, weights):
    """Map the layer's weight list (original order) to names."""
    names = []
    if cfg.get("attention_type", "additive") == "additive":
        names += ["Wt", "Wx"]
        if cfg.get("use_additive_bias", True):
            names.append("bh")
        names.append("Wa")
    else:
        names.append("Wa")
    if cfg.get("use_attention_bias", True):
        names.append("ba")
    assert len(names) == len(weights), (names, [w.shape for w in weights])
    return {n: np.asarray(w, dtype=np.float64) for n, w in zip(names, weights)}


def window(t_len, width, history_only):
    """allowed[t, k]: may query t attend key k (ignoring padding)."""
    t = np.arange(t_len)[:, None]
    k = np.arange(t_len)[None, :]
    if history_only:
        allowed = k <= t
        if width is not None:
            allowed &= k >= t - width + 1
    elif width is not None:
        lower = t - width // 2
        allowed = (k >= lower) & (k < lower + width)
    else:
        allowed = np.ones((t_len, t_len), bool)
    return allowed


def seq_self_attention(x, weights, cfg, mask=None):
    """Return (output, attention, regulariser loss) for x (batch, T, d)."""
    x = np.asarray(x, np.float64)
    b, t_len, _ = x.shape
    w = named_weights(cfg, weights)
    if cfg.get("attention_type", "additive") == "additive":
        q = x @ w["Wt"]
        k = x @ w["Wx"]
        pre = q[:, :, None, :] + k[:, None, :, :]
        if "bh" in w:
            pre = pre + w["bh"]
        e = np.tanh(pre) @ w["Wa"][:, 0]
    else:
        e = x @ w["Wa"] @ np.transpose(x, (0, 2, 1))
    if "ba" in w:
        e = e + w["ba"][0]
    e = ACTIVATIONS[cfg.get("attention_activation")](e)
    allowed = np.broadcast_to(
        window(t_len, cfg.get("attention_width"), cfg.get("history_only", False)),
        (b, t_len, t_len),
    ).copy()
    m = np.ones((b, t_len), bool) if mask is None else np.asarray(mask, bool)
    allowed &= m[:, None, :]
    a = np.zeros_like(e)
    for i in range(b):
        for t in range(t_len):
            keys = allowed[i, t]
            if keys.any():
                z = np.exp(e[i, t, keys] - e[i, t, keys].max())
                a[i, t, keys] = z / z.sum()
    out = a @ x
    am = a * m[:, :, None]
    gram = am @ np.transpose(am, (0, 2, 1))
    eye = np.eye(t_len)[None] * m[:, :, None]
    reg = cfg.get("attention_regularizer_weight", 0.0) * np.sum((gram - eye) ** 2) / b
    return out, a, reg
