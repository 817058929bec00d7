"""Stand-in for the course's ``res/plot_lib.py`` (NYU Deep Learning class notebooks).

Copied next to ``08-seq_classification.ipynb`` by the grader when a submission does not
carry its own ``res/``. Written for the grader with the names and signatures the HW2
notebook uses (``set_default``, ``plot_state``, ``print_colourbar``) and the course's
other plotting helpers; the pictures are close to the course's, nothing is graded on them.
"""

import numpy as np
import torch
from IPython.display import HTML, display
from matplotlib import pyplot as plt

__all__ = ["set_default", "plot_data", "plot_model", "show_scatterplot", "plot_bases", "show_mat",
           "print_colourbar", "plot_state", "colors"]

colors = dict(aqua="#8dd3c7", yellow="#ffffb3", lavender="#bebada", red="#fb8072", blue="#80b1d3",
              orange="#fdb462", green="#b3de69", pink="#fccde5", grey="#d9d9d9", violet="#bc80bd",
              unk1="#ccebc5", unk2="#ffed6f")

# 20 shades from blue (low) to red (high), for values in [0, 1]
_SHADES = ("#85c2e1", "#89c4e2", "#95cae5", "#99cce6", "#a1d0e8", "#b2d9ec", "#baddee", "#c2e1f0", "#eff7fb",
           "#f9e8e8", "#f9e8e8", "#f9d4d4", "#f9bdbd", "#f8a8a8", "#f68f8f", "#f47676", "#f45f5f", "#f34343",
           "#f33b3b", "#f42e2e")


def set_default(figsize=(10, 10), dpi=100):
    """The course's dark plotting style and default figure size."""
    plt.style.use(["dark_background", "bmh"])
    plt.rc("axes", facecolor="k")
    plt.rc("figure", facecolor="k")
    plt.rc("figure", figsize=figsize, dpi=dpi)


def plot_data(X, y, d=0, auto=False, zoom=1):
    X, y = X.cpu(), y.cpu()
    plt.scatter(X.numpy()[:, 0], X.numpy()[:, 1], c=y, s=20, cmap=plt.cm.Spectral)
    plt.axis("square")
    plt.axis(np.array((-1.1, 1.1, -1.1, 1.1)) * zoom)
    if auto is True:
        plt.axis("equal")
    plt.axis("off")
    plt.axvline(0, ymin=0, color=".15", lw=1, zorder=0)
    plt.axhline(0, xmin=0, color=".15", lw=1, zorder=0)


def plot_model(X, y, model):
    model.cpu()
    grid = np.arange(-1.1, 1.1, 0.01)
    xx, yy = np.meshgrid(grid, grid)
    with torch.no_grad():
        z = model(torch.from_numpy(np.stack((xx.ravel(), yy.ravel()), axis=1)).float()).detach()
    plt.contourf(xx, yy, np.argmax(z, axis=1).reshape(xx.shape), cmap=plt.cm.Spectral, alpha=0.3)
    plot_data(X, y)


def show_scatterplot(X, colors, title=""):
    colors, X = colors.cpu().numpy(), X.cpu().numpy()
    plt.figure()
    plt.axis("equal")
    plt.scatter(X[:, 0], X[:, 1], c=colors, s=30)
    plt.title(title)
    plt.axis("off")


def plot_bases(bases, width=0.04):
    bases = bases.cpu()
    bases[2:] -= bases[:2]
    for i, colour in ((0, (1, 0, 0)), (1, (0, 1, 0))):
        plt.arrow(*bases[i], *bases[i + 2], width=width, color=colour, zorder=10, alpha=1.0,
                  length_includes_head=True)


def show_mat(mat, vect, prod, threshold=-1):
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, sharex=False, sharey=True, gridspec_kw={"width_ratios": [5, 1, 1]})
    cax1 = ax1.matshow(mat.numpy(), clim=(-1, 1))
    ax2.matshow(vect.numpy(), clim=(-1, 1))
    cax3 = ax3.matshow(prod.numpy(), clim=(threshold, 1))
    ax1.set_title(f"A: {mat.size(0)} \u00d7 {mat.size(1)}")
    ax2.set_title(f"a^(i): {vect.numel()}")
    ax3.set_title(f"p: {prod.numel()}")
    ax2.set_xticks(())
    ax3.set_xticks(())
    fig.colorbar(cax1, ax=ax2)
    fig.colorbar(cax3, ax=ax3)
    ax1.set_ylim(bottom=max(len(prod), len(vect)) - 0.5)


def _shade(value):
    """The colour of a value in [0, 1] (1 itself takes the last shade)."""
    return _SHADES[min(int(float(value) * 100 / 5), len(_SHADES) - 1)]


def _show(pairs):
    """Text on coloured backgrounds, as HTML in the notebook."""
    spans = []
    for text, colour in pairs:
        pad = "padding-left:10px;" if text == " " else ""
        shown = " " if text == " " else f"{text} "
        spans.append(f"<text style=color:#000;{pad}background-color:{colour}>{shown}</text>")
    display(HTML("".join(spans)))


def print_colourbar():
    """The colour scale of plot_state: 20 values from -2.5 to 2.5."""
    _show([(f"{x:.2f}", _shade((x + 2.5) / 5)) for x in torch.linspace(-2.5, 2.5, 20)])


def plot_state(data, state, b, decoder):
    """One line per unit of ``state`` (time, batch, units): the sequence ``b`` of ``data``
    decoded by ``decoder``, each symbol coloured by sigmoid(state) at its step (padding skipped)."""
    symbols = decoder(data[b, :, :].numpy())
    skip = len(state) - len(symbols)
    for unit in range(state.size(2)):
        values = torch.sigmoid(state[:, b, unit])[skip:]
        _show([(s, _shade(v)) for s, v in zip(symbols, values)])
