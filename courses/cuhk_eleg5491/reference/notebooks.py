"""The ELEG 5491 HW2 submission as we define it: `<student number>.zip` holding `report.pdf`
and `cifar_cnn.ipynb` (the course left the code submission to a later announcement).

The notebook defines three networks, named so the grader can find them:
`Net` (5.1: the course's network), `HeNet` (5.2: the same network, He-initialised) and
`BNNet` (5.3: batch norm after every conv and FC layer but the last), plus the course's own
CIFAR-10 loading and training cells (which the grader does not run: it grades the
definitions, and trains `Net` on its own data with the course's settings).

`write_solution_zip` writes the reference (full automatic marks), `write_starters` the
handout-like starter (the given code, TODO networks: zero automatic marks).
"""

from __future__ import annotations

import textwrap
import zipfile
from pathlib import Path

import nbformat

NOTEBOOK = "cifar_cnn.ipynb"
REPORT = "report.pdf"
SUBMISSION_FILES = (REPORT, NOTEBOOK)
EXAMPLE_STUDENT = "1155012345"
ZIP_TIME = (2017, 3, 14, 12, 0, 0)

IMPORTS = """
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
"""

DATA = """
# Course code: CIFAR-10 (downloaded by torchvision), normalised to about -1..1.
import torchvision
import torchvision.transforms as transforms

transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
trainset = torchvision.datasets.CIFAR10(root='./data', train=True, download=True, transform=transform)
trainloader = torch.utils.data.DataLoader(trainset, batch_size=4, shuffle=True, num_workers=2)
testset = torchvision.datasets.CIFAR10(root='./data', train=False, download=True, transform=transform)
testloader = torch.utils.data.DataLoader(testset, batch_size=4, shuffle=False, num_workers=2)
"""

NET = """
class Net(nn.Module):
    \"\"\"5.1: conv 5x5 -> 6, max pool, conv 5x5 -> 16, max pool, FC 120, 84, 10, ReLU.\"\"\"

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)
"""

HE_NET = """
class HeNet(Net):
    \"\"\"5.2: the same network, weights drawn with Var[w_l] = 2 / n_l (n_l = fan-in), biases 0.\"\"\"

    def __init__(self):
        super().__init__()
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                n = m.weight[0].numel()
                nn.init.normal_(m.weight, 0.0, (2.0 / n) ** 0.5)
                nn.init.zeros_(m.bias)
"""

BN_NET = """
class BNNet(nn.Module):
    \"\"\"5.3: batch norm after each convolution and FC layer except the last.\"\"\"

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.bn2 = nn.BatchNorm2d(16)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.bn3 = nn.BatchNorm1d(120)
        self.fc2 = nn.Linear(120, 84)
        self.bn4 = nn.BatchNorm1d(84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = self.pool(F.relu(self.bn2(self.conv2(x))))
        x = x.view(x.size(0), -1)
        x = F.relu(self.bn3(self.fc1(x)))
        x = F.relu(self.bn4(self.fc2(x)))
        return self.fc3(x)
"""

STARTER_NET = """
class Net(nn.Module):
    \"\"\"5.1: conv 5x5 -> 6, max pool, conv 5x5 -> 16, max pool, FC 120, 84, 10, ReLU.\"\"\"

    def __init__(self):
        super().__init__()
        # TODO: define the layers

    def forward(self, x):
        # TODO
        raise NotImplementedError
"""

STARTER_HE_NET = """
class HeNet(Net):
    \"\"\"5.2: the same network with the initialisation of Eqn. 6.\"\"\"

    def __init__(self):
        super().__init__()
        # TODO: initialise the weights so that n_l Var[w_l] / 2 = 1
"""

STARTER_BN_NET = """
class BNNet(nn.Module):
    \"\"\"5.3: batch norm after each convolution and FC layer except the last.\"\"\"

    def __init__(self):
        super().__init__()
        # TODO

    def forward(self, x):
        # TODO
        raise NotImplementedError
"""

TRAIN = """
# Course code: SGD, lr 0.001, momentum 0.9, weight decay 5e-4, softmax (cross-entropy) loss.
def train(net, loader, epochs=5):
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9, weight_decay=5e-4)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.1)
    losses = []
    for epoch in range(epochs):
        net.train()
        for inputs, labels in loader:
            optimizer.zero_grad()
            loss = criterion(net(inputs), labels)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
    return losses


def test_accuracy(net, loader):
    net.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            correct += (net(images).argmax(1) == labels).sum().item()
            total += labels.size(0)
    return correct / total
"""

RUN = """
for name, cls in (('plain', Net), ('He', HeNet), ('BN', BNNet)):
    net = cls()
    losses = train(net, trainloader)
    print(name, 'test accuracy', test_accuracy(net, testloader))
"""


def _cells(starter: bool) -> list[tuple[str, str]]:
    pick = (lambda sol, st: st if starter else sol)
    return [
        ("markdown", "# ELEG 5491 HW2, problem 5: a CNN on CIFAR-10"),
        ("code", IMPORTS),
        ("code", DATA),
        ("markdown", "## 5.1 The network"),
        ("code", pick(NET, STARTER_NET)),
        ("markdown", "## 5.2 Weight initialisation"),
        ("code", pick(HE_NET, STARTER_HE_NET)),
        ("markdown", "## 5.3 Batch normalisation"),
        ("code", pick(BN_NET, STARTER_BN_NET)),
        ("markdown", "## Training and evaluation (course code)"),
        ("code", TRAIN),
        ("code", RUN),
    ]


def notebook(starter: bool = False) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, text in _cells(starter):
        text = textwrap.dedent(text).strip("\n")
        nb.cells.append(nbformat.v4.new_markdown_cell(text) if kind == "markdown" else nbformat.v4.new_code_cell(text))
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
    return nb


REPORT_TEXT = (
    "ELEG 5491 HW2 report (reference submission)",
    "Problem 1. Backpropagation through time: delta^o_t = z_t - onehot(y_t); dL/dW_hz = sum_t delta^o_t h_t^T.",
    "Problem 2. (a) G_t = F(F(...F(h_0, x_1)..., x_{t-1}), x_t). (b) Shared F_theta; fixed-size state.",
    "Problem 3. The GPUs synchronise at conv3 and at the fully connected layers.",
    "Problem 4. (a) d n + (L - 1) n^2 + n c + L n + c. (b) O(dn + Ln^2 + nc). (c) O(L c d n^L).",
    "Problem 5. See cifar_cnn.ipynb: Net, HeNet, BNNet; training curves and filters below.",
)


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def report_pdf_bytes(lines: tuple[str, ...] = REPORT_TEXT) -> bytes:
    """A minimal valid one-page PDF (PDF 1.4, Helvetica) whose text pypdf can extract."""
    ops = ["BT", "/F1 10 Tf", "14 TL", "60 740 Td"] + [f"({_pdf_escape(line)}) Tj T*" for line in lines] + ["ET"]
    stream = ("\n".join(ops) + "\n").encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"endstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def write_zip(out_zip: Path, nb: nbformat.NotebookNode, student: str = EXAMPLE_STUDENT) -> Path:
    """`<student>.zip` (or `out_zip` itself when it names a file) with report.pdf and the notebook."""
    out_zip = Path(out_zip)
    if out_zip.is_dir():
        out_zip = out_zip / f"{student}.zip"
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    entries = {REPORT: report_pdf_bytes(), NOTEBOOK: nbformat.writes(nb).encode("utf-8")}
    with zipfile.ZipFile(out_zip, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in SUBMISSION_FILES:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, entries[name])
    return out_zip


def write_solution_zip(out_zip: Path, student: str = EXAMPLE_STUDENT) -> Path:
    """A correctly named submission with full automatic marks (`grader solution`)."""
    return write_zip(out_zip, notebook(starter=False), student)


def write_starters(out_dir: Path) -> list[Path]:
    """The handout-like starter notebook (`grader starter`): given code, TODO networks."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / NOTEBOOK
    path.write_text(nbformat.writes(notebook(starter=True)), encoding="utf-8")
    return [path]
