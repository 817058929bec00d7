"""hw2_cnn.ipynb: a small residual CNN for cats vs dogs (3x256x256 -> 2 logits).

The data cells download the course's images where there is internet and torchvision;
elsewhere they fall back to a small synthetic stand-in with the same shapes, so the
notebook runs end to end offline. The graded definitions (``CNN``,
``get_loss_and_correct``, ``step``) never depend on those cells.
"""

from __future__ import annotations

from ._cells import DATA, RUN, STUDENT, code, md

NAME = "hw2_cnn.ipynb"

SETUP = '''
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm
import matplotlib.pyplot as plt

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
'''

DOWNLOAD = '''
# The course's copy of the data (about 3000 photos). Skipped when the folder is there.
DATA_URL = "https://example.org/dl-hw2/cats_and_dogs.zip"
DATA_DIR = "cats_and_dogs"
if not os.path.isdir(DATA_DIR):
    !wget -q -O cats_and_dogs.zip {DATA_URL} && unzip -q -o cats_and_dogs.zip
'''

LOAD = '''
BATCH_SIZE = 16
try:
    from torchvision import datasets, transforms
except ImportError:  # no torchvision here: use the stand-in below
    datasets = transforms = None

if datasets is not None and os.path.isdir(os.path.join(DATA_DIR, "train")):
    transform = transforms.Compose([
        transforms.Resize((256, 256)),
        transforms.ToTensor(),
        transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    ])
    train_dataset = datasets.ImageFolder(os.path.join(DATA_DIR, "train"), transform=transform)
    validation_dataset = datasets.ImageFolder(os.path.join(DATA_DIR, "validation"), transform=transform)
else:
    class StripesDataset(torch.utils.data.Dataset):
        """Offline stand-in: horizontal (0) or vertical (1) stripes under noise."""

        def __init__(self, size, seed):
            self.size = size
            self.seed = seed

        def __len__(self):
            return self.size

        def __getitem__(self, i):
            g = torch.Generator().manual_seed(self.seed * 100003 + i)
            label = i % 2
            period = 32 + 32 * torch.rand(1, generator=g).item()
            phase = 6.2832 * torch.rand(1, generator=g).item()
            wave = (torch.sin(6.2832 * torch.arange(256) / period + phase) > 0).float()
            pattern = wave[:, None].expand(256, 256) if label == 0 else wave[None, :].expand(256, 256)
            colors = torch.rand(2, 3, 1, 1, generator=g) * 2 - 1
            img = colors[0] + (colors[1] - colors[0]) * pattern
            img = img + 0.5 * torch.randn(3, 256, 256, generator=g)
            return img, label

    train_dataset = StripesDataset(192, seed=1)
    validation_dataset = StripesDataset(64, seed=2)

train_dataloader = torch.utils.data.DataLoader(train_dataset, batch_size=BATCH_SIZE, shuffle=True)
validation_dataloader = torch.utils.data.DataLoader(validation_dataset, batch_size=BATCH_SIZE)
print(len(train_dataset), "training images,", len(validation_dataset), "validation images")
'''

CNN = '''
class ResidualBlock(nn.Module):
    """conv-BN-ReLU-conv-BN plus the input (a ResNet basic block), then ReLU."""

    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + x)  # skip connection


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        # 3x256x256 -> 16x64x64 (strided conv) -> 16x32x32 (max pool)
        self.stem = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=7, stride=4, padding=3, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.block1 = ResidualBlock(16)
        # 16x32x32 -> 32x16x16
        self.down = nn.Sequential(
            nn.Conv2d(16, 32, kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(),
        )
        self.block2 = ResidualBlock(32)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 2)

    def forward(self, x):
        # x: (batch, 3, 256, 256) -> logits (batch, 2)
        x = self.stem(x)
        x = self.block1(x)
        x = self.down(x)
        x = self.block2(x)
        x = self.pool(x).flatten(1)
        return self.fc(x)
'''

CNN_STARTER = '''
class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        # TODO: define the layers: at least two convolutions, batch norm, a
        # non-linearity, pooling, a residual (skip) connection and a fully
        # connected layer at the end.

    def forward(self, x):
        # x: images, shape (batch, 3, 256, 256)
        # returns: class scores (logits), shape (batch, 2)
        # TODO
        raise NotImplementedError("CNN.forward")
'''

LOOP_FUNCS = '''
def get_loss_and_correct(model, batch, criterion, device):
    """Forward one batch of (images, labels).

    Returns (loss, number of correct predictions), both tensors.
    """
    images, labels = batch
    images, labels = images.to(device), labels.to(device)
    logits = model(images)
    loss = criterion(logits, labels)
    correct = (logits.argmax(dim=1) == labels).sum()
    return loss, correct


def step(loss, optimizer):
    """Backward pass and one parameter update."""
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
'''

LOOP_FUNCS_STARTER = '''
def get_loss_and_correct(model, batch, criterion, device):
    # batch: (images, labels). Move them to `device`, run the model, compute the loss.
    # Return a tuple:
    # - the loss of the batch (a tensor)
    # - the number of correctly classified images in the batch (a tensor)
    # TODO
    return None, None


def step(loss, optimizer):
    # TODO: backward pass and parameter update
    pass
'''

TRAIN = '''
N_EPOCHS = 10

model = CNN().to(device)
criterion = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

train_losses, train_accuracies = [], []
validation_losses, validation_accuracies = [], []

pbar = tqdm(range(N_EPOCHS))
for epoch in pbar:
    total_train_loss = total_train_correct = 0.0
    total_validation_loss = total_validation_correct = 0.0

    model.train()
    for batch in tqdm(train_dataloader, leave=False):
        loss, correct = get_loss_and_correct(model, batch, criterion, device)
        step(loss, optimizer)
        total_train_loss += loss.item()
        total_train_correct += correct.item()

    model.eval()
    with torch.no_grad():
        for batch in validation_dataloader:
            loss, correct = get_loss_and_correct(model, batch, criterion, device)
            total_validation_loss += loss.item()
            total_validation_correct += correct.item()

    train_losses.append(total_train_loss / len(train_dataloader))
    train_accuracies.append(total_train_correct / len(train_dataset))
    validation_losses.append(total_validation_loss / len(validation_dataloader))
    validation_accuracies.append(total_validation_correct / len(validation_dataset))
    pbar.set_postfix({
        "train loss": f"{train_losses[-1]:.3f}",
        "train acc": f"{train_accuracies[-1]:.3f}",
        "val loss": f"{validation_losses[-1]:.3f}",
        "val acc": f"{validation_accuracies[-1]:.3f}",
    })
'''

TRAIN_STARTER = TRAIN.replace(
    "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)",
    "optimizer = None  # TODO: e.g. Adam over model.parameters()",
)
assert TRAIN_STARTER != TRAIN

PLOT = '''
fig, axes = plt.subplots(ncols=2, figsize=(10, 4))
axes[0].plot(train_losses, label="train")
axes[0].plot(validation_losses, label="validation")
axes[0].set_title("loss")
axes[1].plot(train_accuracies, label="train")
axes[1].plot(validation_accuracies, label="validation")
axes[1].set_title("accuracy")
for ax in axes:
    ax.set_xlabel("epoch")
    ax.legend()
plt.show()
print(f"final validation accuracy: {validation_accuracies[-1]:.3f}")
'''

CELLS = [
    md("""
        # Homework 2: convolutional neural networks

        We train a small convolutional network to tell cats from dogs. Images are
        resized to 256x256 RGB; the network outputs two class scores.
    """),
    code(SETUP),
    md("""
        ## Data

        The first cell downloads the images (on Colab or wherever there is internet).
        Offline, the next cell uses a synthetic stand-in with the same shapes.
    """),
    code(DOWNLOAD, DATA),
    code(LOAD, DATA),
    md("""
        ## Model

        Write `CNN`. It must have at least two convolutional layers, batch
        normalisation, a non-linearity, pooling, a ResNet-style skip connection and a
        fully connected layer. Input: (batch, 3, 256, 256); output: (batch, 2).
        Bringing the resolution down early (strides, pooling) keeps it fast.
    """),
    code(CNN, STUDENT, starter=CNN_STARTER),
    md("""
        ## Training

        Write `get_loss_and_correct` (forward pass, loss and the number of correct
        predictions of one batch) and `step` (backward pass and update).
    """),
    code(LOOP_FUNCS, STUDENT, starter=LOOP_FUNCS_STARTER),
    code(TRAIN, RUN, STUDENT, starter=TRAIN_STARTER),
    code(PLOT, RUN),
]
