"""hw2_moe.ipynb (Spring 2024 and 2025): a mixture of two linear experts, as the course poses it.

The provided cells are the handout's: imports and `generate_data(n_samples=2000)` (no
seed; two unit Gaussians at (3, 2) and (-3, 2), label 1 outside the circle of radius
sqrt(13) through both centres, then the second coordinate shifted by -2). The student
writes `Expert` ("a simple neural network with one linear layer"), `GatingNetwork` (the
probabilities of choosing each expert), `MixtureOfExperts`, the training (binary
cross-entropy, Adam, a decaying learning rate) and the plots of the decision boundaries
of the two experts, the gate and the final model; a bonus asks for more experts. The
handout fixes no constructor signatures; its training cell is a SyntaxError until filled
in (`criterion = # TODO`), which the starter keeps.
"""

from __future__ import annotations

from ._cells import PROVIDED, RUN, STUDENT, code, md

NAME = "hw2_moe.ipynb"

SETUP = '''
# Import Libraries

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset

import numpy as np
import matplotlib.pyplot as plt
'''

DATA = '''
# Generate the Dataset
def generate_data(n_samples=2000):
  X = torch.zeros(n_samples, 2)
  y = torch.zeros(n_samples, dtype=torch.long)

  # Generate samples from two Gaussian distributions
  X[:n_samples//2] = torch.randn(n_samples//2, 2) + torch.Tensor([3,2])
  X[n_samples//2:] = torch.randn(n_samples//2, 2) + torch.Tensor([-3,2])

  # Labels
  for i in range(X.shape[0]):
    if X[i].norm() > math.sqrt(13):
      y[i] = 1

  X[:, 1] = X[:, 1] - 2

  return X, y

data, labels = generate_data()
'''

PLOT_DATA = '''
plt.figure(figsize=(6, 4))
plt.scatter(data[labels == 0, 0], data[labels == 0, 1], s=6, alpha=0.5, label="Class 0")
plt.scatter(data[labels == 1, 0], data[labels == 1, 1], s=6, alpha=0.5, label="Class 1")
plt.xlabel("Feature 1")
plt.ylabel("Feature 2")
plt.legend()
plt.show()
'''

PLOT_DATA_STARTER = '''
# TODO: plot the generated dataset
'''

ANSWER = """
    **Answer.** No. Class 1 lies outside a circle through the centres of both clusters, so
    each cluster is cut by a curved boundary that bends the other way on the other side;
    the best straight line gets only about two thirds of the points right. One linear
    boundary per cluster (two experts, a gate that picks the cluster) gets about 95 %.
"""

EXPERT = '''
class Expert(nn.Module):
    """One linear layer: a score (logit) of class 1."""

    def __init__(self, input_dim=2, output_dim=1):
        super().__init__()
        self.linear = nn.Linear(input_dim, output_dim)

    def forward(self, x):
        return self.linear(x)
'''

GATE = '''
class GatingNetwork(nn.Module):
    """One score per expert, turned into probabilities by a softmax."""

    def __init__(self, num_experts, input_dim=2):
        super().__init__()
        self.linear = nn.Linear(input_dim, num_experts)

    def forward(self, x):
        # (batch, input_dim) -> (batch, num_experts), rows sum to 1
        return F.softmax(self.linear(x), dim=1)
'''

MIXTURE = '''
class MixtureOfExperts(nn.Module):
    """Output = sigmoid of the sum over experts of gate probability * expert score: a probability
    (always in [0, 1], as BCELoss needs; a gate-weighted sum of sigmoid outputs can round above 1)."""

    def __init__(self, num_experts=2, input_dim=2, output_dim=1):
        super().__init__()
        self.experts = nn.ModuleList([Expert(input_dim, output_dim) for _ in range(num_experts)])
        self.gating_network = GatingNetwork(num_experts, input_dim)

    def forward(self, x):
        gates = self.gating_network(x)                                    # (batch, E)
        outputs = torch.stack([expert(x) for expert in self.experts], 1)  # (batch, E, out)
        return torch.sigmoid((gates.unsqueeze(-1) * outputs).sum(dim=1))  # (batch, out)
'''


def _starter_class(name: str) -> str:
    return f'''
class {name}(nn.Module):
    # TODO: Implement the {name} class
    pass
'''


TRAIN = '''
# Define the model, loss, and optimizer
model = MixtureOfExperts(num_experts=2)
criterion = nn.BCELoss()
optimizer = torch.optim.Adam(model.parameters(), lr=0.05)

# Define the learning rate scheduler
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=150, gamma=0.5)

# Convert data and labels to float tensors
data_tensor = data.float()
labels_tensor = labels.view(-1, 1).float()

# Training loop
num_epochs = 500
losses = []
for epoch in range(num_epochs):
    optimizer.zero_grad()
    y_hat = model(data_tensor)
    loss = criterion(y_hat, labels_tensor)
    loss.backward()
    optimizer.step()
    scheduler.step()
    losses.append(loss.item())
    if (epoch + 1) % 100 == 0:
        acc = ((y_hat > 0.5).float() == labels_tensor).float().mean().item()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}, accuracy {acc:.4f}, lr {scheduler.get_last_lr()[0]:.4f}")
'''

TRAIN_STARTER = '''
# Define the model, loss, and optimizer
model = # TODO
criterion = # TODO
optimizer = # TODO

# Define the learning rate scheduler
scheduler = # TODO

# Convert data and labels to float tensors
data_tensor = data.float()
labels_tensor = labels.view(-1, 1).float()

# Training loop
# TODO
'''

BOUNDARIES = '''
xx, yy = torch.meshgrid(torch.linspace(-7, 7, 200), torch.linspace(-5, 5, 200), indexing="xy")
grid = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)
model.eval()
with torch.no_grad():
    panels = [(f"expert {i + 1}", torch.sigmoid(expert(grid))) for i, expert in enumerate(model.experts)]
    panels.append(("gate: P(expert 1)", model.gating_network(grid)[:, :1]))
    panels.append(("final model", model(grid)))
fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.5))
for ax, (title, z) in zip(axes, panels):
    z = z.reshape(200, 200)
    ax.contourf(xx, yy, z, levels=20, cmap="coolwarm", alpha=0.4)
    ax.contour(xx, yy, z, levels=[0.5], colors="k")
    ax.scatter(data[:, 0], data[:, 1], c=labels, s=3, cmap="coolwarm")
    ax.set_title(title)
plt.show()
'''

BOUNDARIES_STARTER = '''
# TODO: plot the decision boundaries of the two experts, the gating network and the final model
'''

BONUS = '''
bonus_model = MixtureOfExperts(num_experts=5)
bonus_optimizer = torch.optim.Adam(bonus_model.parameters(), lr=0.05)
bonus_scheduler = torch.optim.lr_scheduler.StepLR(bonus_optimizer, step_size=150, gamma=0.5)
for epoch in range(300):
    bonus_optimizer.zero_grad()
    bonus_loss = criterion(bonus_model(data_tensor), labels_tensor)
    bonus_loss.backward()
    bonus_optimizer.step()
    bonus_scheduler.step()
with torch.no_grad():
    bonus_acc = ((bonus_model(data_tensor) > 0.5).float() == labels_tensor).float().mean().item()
print(f"5 experts: accuracy {bonus_acc:.4f}")
'''

BONUS_STARTER = '''
# TODO (bonus): more experts
'''

CELLS = [
    md("""
        # Homework: Implement a Mixture of Experts Model

        ## Overview

        In this homework, you'll implement a Mixture of Experts (MoE) model for classifying
        points generated from two Gaussian distributions.
    """),
    code(SETUP, PROVIDED),
    code(DATA, PROVIDED),
    md("""
        Question: Plot the generated dataset. Do you think a linear model would be able to
        separate the classes well?
    """),
    code(PLOT_DATA, RUN, STUDENT, starter=PLOT_DATA_STARTER),
    md(ANSWER),
    md("""
        ## Expert Model

        Let's implement the Expert model. It will be a simple neural network with one linear layer.
    """),
    code(EXPERT, STUDENT, starter=_starter_class("Expert")),
    md("""
        ## Gating Network

        Now, let's implement the Gating Network. The Gating Network will output the
        probabilities for choosing each expert.
    """),
    code(GATE, STUDENT, starter=_starter_class("GatingNetwork")),
    md("""
        ## Mixture of Experts

        Finally, let's implement the Mixture of Experts model. This model will utilize the
        Expert and Gating Network models to make a final prediction.
    """),
    code(MIXTURE, STUDENT, starter=_starter_class("MixtureOfExperts")),
    md("""
        ## Training Loop

        Train with binary cross-entropy, Adam and a learning-rate scheduler that decays the rate.
    """),
    code(TRAIN, RUN, STUDENT, starter=TRAIN_STARTER),
    md("""
        ## Decision Boundaries

        Finally, let's plot the decision boundaries of the two experts, the gating network
        and the final model.
    """),
    code(BOUNDARIES, RUN, STUDENT, starter=BOUNDARIES_STARTER),
    md("""
        ## Bonus (2 points)

        Try more experts. How does the accuracy change?
    """),
    code(BONUS, RUN, STUDENT, starter=BONUS_STARTER),
]
