"""hw2_moe.ipynb: a mixture of linear experts on two Gaussian blobs."""

from __future__ import annotations

from ._cells import RUN, STUDENT, code, md

NAME = "hw2_moe.ipynb"

SETUP = '''
import torch
import torch.nn as nn
import torch.nn.functional as F
import matplotlib.pyplot as plt

torch.manual_seed(0)
'''

DATA = '''
def generate_data(n_samples=1000, centers=((-1.5, -1.5), (1.5, 1.5)), std=1.0, seed=0):
    """Two Gaussian blobs in the plane: label 0 around centers[0], label 1 around centers[1].

    Returns X (n_samples, 2) and y (n_samples,) float tensors, shuffled; half the points
    in each blob.
    """
    g = torch.Generator().manual_seed(seed)
    n0 = n_samples // 2
    n1 = n_samples - n0
    x0 = torch.randn(n0, 2, generator=g) * std + torch.tensor(centers[0], dtype=torch.float32)
    x1 = torch.randn(n1, 2, generator=g) * std + torch.tensor(centers[1], dtype=torch.float32)
    X = torch.cat([x0, x1])
    y = torch.cat([torch.zeros(n0), torch.ones(n1)])
    perm = torch.randperm(n_samples, generator=g)
    return X[perm], y[perm]


X_train, y_train = generate_data(1000, seed=0)
X_test, y_test = generate_data(500, seed=1)
'''

MODEL = '''
class Expert(nn.Module):
    """One linear layer; its output goes through a sigmoid (a probability per output)."""

    def __init__(self, input_dim, output_dim):
        super().__init__()
        self.linear = nn.Linear(input_dim, output_dim)

    def forward(self, x):
        return torch.sigmoid(self.linear(x))


class GatingNetwork(nn.Module):
    """Scores each expert for each input and turns the scores into probabilities."""

    def __init__(self, num_experts, input_dim):
        super().__init__()
        self.linear = nn.Linear(input_dim, num_experts)

    def forward(self, x):
        # (batch, input_dim) -> (batch, num_experts), rows sum to 1
        return F.softmax(self.linear(x), dim=1)


class MixtureOfExperts(nn.Module):
    """Output = sum over experts of gate probability * expert output."""

    def __init__(self, num_experts, input_dim, output_dim):
        super().__init__()
        self.experts = nn.ModuleList([Expert(input_dim, output_dim) for _ in range(num_experts)])
        self.gating_network = GatingNetwork(num_experts, input_dim)

    def forward(self, x):
        gates = self.gating_network(x)                                    # (batch, E)
        outputs = torch.stack([expert(x) for expert in self.experts], 1)  # (batch, E, out)
        return (gates.unsqueeze(-1) * outputs).sum(dim=1)                 # (batch, out)
'''

MODEL_STARTER = '''
class Expert(nn.Module):
    def __init__(self, input_dim, output_dim):
        super().__init__()
        # TODO: a single linear layer

    def forward(self, x):
        # TODO: the expert's output for x, shape (batch, output_dim)
        raise NotImplementedError("Expert.forward")


class GatingNetwork(nn.Module):
    def __init__(self, num_experts, input_dim):
        super().__init__()
        # TODO

    def forward(self, x):
        # TODO: a probability for each expert, shape (batch, num_experts), rows sum to 1
        raise NotImplementedError("GatingNetwork.forward")


class MixtureOfExperts(nn.Module):
    def __init__(self, num_experts, input_dim, output_dim):
        super().__init__()
        # TODO: self.experts (an nn.ModuleList of Expert) and self.gating_network

    def forward(self, x):
        # TODO: combine the experts' outputs, weighted by the gating network
        raise NotImplementedError("MixtureOfExperts.forward")
'''

TRAIN = '''
NUM_EXPERTS = 4
EPOCHS = 300

model = MixtureOfExperts(num_experts=NUM_EXPERTS, input_dim=2, output_dim=1)
criterion = nn.BCELoss()
optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=100, gamma=0.5)

losses = []
for epoch in range(EPOCHS):
    model.train()
    optimizer.zero_grad()
    probs = model(X_train).squeeze(1)
    loss = criterion(probs, y_train)
    loss.backward()
    optimizer.step()
    scheduler.step()
    losses.append(loss.item())
    if (epoch + 1) % 50 == 0:
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}, lr {scheduler.get_last_lr()[0]:.4f}")

model.eval()
with torch.no_grad():
    accuracy = ((model(X_test).squeeze(1) > 0.5).float() == y_test).float().mean().item()
print(f"test accuracy: {accuracy:.3f}")
'''

TRAIN_STARTER = '''
NUM_EXPERTS = 4
EPOCHS = 300

model = MixtureOfExperts(num_experts=NUM_EXPERTS, input_dim=2, output_dim=1)
criterion = nn.BCELoss()
optimizer = None  # TODO: Adam
scheduler = None  # TODO: a learning-rate scheduler that decays the rate

losses = []
# TODO: the training loop; record the loss of every epoch in `losses`

model.eval()
with torch.no_grad():
    accuracy = ((model(X_test).squeeze(1) > 0.5).float() == y_test).float().mean().item()
print(f"test accuracy: {accuracy:.3f}")
'''

PLOT = '''
fig, axes = plt.subplots(ncols=2, figsize=(11, 4.5))
axes[0].plot(losses)
axes[0].set_xlabel("epoch")
axes[0].set_ylabel("BCE loss")

xx, yy = torch.meshgrid(torch.linspace(-5, 5, 200), torch.linspace(-5, 5, 200), indexing="xy")
grid = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)
with torch.no_grad():
    winner = model.gating_network(grid).argmax(dim=1).reshape(200, 200)
    prob = model(grid).reshape(200, 200)
axes[1].contourf(xx, yy, winner, alpha=0.25, levels=NUM_EXPERTS, cmap="tab10")
axes[1].contour(xx, yy, prob, levels=[0.5], colors="k")
axes[1].scatter(X_test[:, 0], X_test[:, 1], c=y_test, s=6, cmap="coolwarm")
axes[1].set_title("colours: expert with the largest gate; line: decision boundary")
plt.show()
'''

CELLS = [
    md("""
        # Homework 2: mixture of experts

        A mixture of experts combines several small models (the *experts*) with a
        *gating network* that decides, for each input, how much each expert counts.
        Here the experts are single linear layers and the task is to separate two
        Gaussian blobs in the plane.
    """),
    code(SETUP),
    code(DATA),
    md("""
        ## Model

        Write `Expert` (one linear layer), `GatingNetwork` (one probability per expert:
        a softmax) and `MixtureOfExperts` (the experts' outputs weighted by the gate).
        The output is a probability of label 1, for `nn.BCELoss`.
    """),
    code(MODEL, STUDENT, starter=MODEL_STARTER),
    md("""
        ## Training

        Train with `BCELoss`, Adam and a learning-rate scheduler that lowers the rate
        as training goes on.
    """),
    code(TRAIN, RUN, STUDENT, starter=TRAIN_STARTER),
    code(PLOT, RUN),
    md("""
        ## Question

        *How do the experts share the work?* The gate cuts the plane into regions and
        each region is mostly handled by one expert. On two blobs a single linear
        expert would do; the mixture tends to give the bulk of each blob to the expert
        that is most confident there, and the gate's boundaries need not line up with
        the decision boundary.
    """),
]
