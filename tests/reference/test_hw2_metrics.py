"""The judging helpers: echo scoring and the course's kind of loss spike (curves measured in calibration)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nyu_dl_hw2.reference.hw2.metrics import LN4, echo_score, spikes, worst_climb

# Per-epoch mean training loss of seq_classification Section 8 (seed 1, MODERATE, batch 32,
# hidden 12, RMSprop lr 1e-3, 100 epochs), measured by benchmarks/calibrate_hw2.py:
# the course procedure, and the solution's (clip 0.25 + lr decay 0.98/epoch) for seeds 1 and 5.
COURSE_SEED1 = [1.4027, 1.3885, 1.3863, 1.3856, 1.387, 1.3841, 1.3589, 1.2792, 1.1617, 1.0564, 0.9426, 0.8708,
    0.8125, 0.7795, 0.7664, 0.7499, 0.7253, 0.7392, 0.6963, 0.683, 0.6388, 0.593, 0.6198,
    0.5331, 0.5056, 0.4889, 0.5228, 0.7126, 0.4347, 0.4529, 0.4303, 0.4102, 0.4167, 0.3931,
    0.3978, 0.3814, 0.3713, 1.4259, 0.9566, 1.0141, 0.7701, 0.9327, 0.8801, 0.7246, 0.7971,
    0.6818, 1.0055, 0.8491, 0.753, 0.7534, 0.7418, 0.7531, 0.9289, 0.8728, 1.2804, 2.1326,
    1.7094, 1.5228, 1.4246, 1.3963, 1.3852, 1.3783, 1.3815, 1.38, 1.3753, 1.3756, 1.3693,
    1.3568, 1.2794, 1.0288, 0.7495, 0.5275, 0.44, 0.4606, 0.3496, 0.3072, 0.276, 0.2344, 0.2053,
    0.1799, 0.3099, 0.1429, 0.1784, 0.1102, 0.0976, 0.0878, 0.076, 0.0654, 0.0597, 0.0734,
    0.0475, 0.0411, 0.037, 0.0325, 0.029, 0.0245, 1.1469, 1.9249, 0.5469, 0.3936]

SOLUTION_SEED1 = [1.4021, 1.388, 1.3864, 1.3855, 1.3872, 1.3842, 1.3682, 1.2931, 1.2487, 1.1844, 1.1232, 1.0517,
    0.987, 0.9292, 0.8939, 0.8645, 0.8275, 0.7944, 0.7614, 0.7485, 0.7424, 0.717, 0.7141,
    0.6846, 0.6713, 0.644, 0.6256, 0.601, 0.5815, 0.5885, 0.5535, 0.5378, 0.5284, 0.4972,
    0.4809, 0.4605, 0.443, 0.4486, 0.399, 0.3787, 0.3672, 0.3556, 0.3408, 0.3139, 0.3074,
    0.2904, 0.2729, 0.2551, 0.2439, 0.2251, 0.213, 0.1918, 0.1818, 0.1763, 0.1653, 0.161,
    0.1446, 0.1501, 0.1318, 0.1343, 0.1195, 0.1171, 0.1058, 0.1024, 0.0998, 0.0935, 0.0943,
    0.0854, 0.0743, 0.0749, 0.0794, 0.0859, 0.076, 0.0669, 0.0676, 0.0607, 0.0644, 0.0704,
    0.0632, 0.0621, 0.0524, 0.0661, 0.0505, 0.0707, 0.0555, 0.0504, 0.0467, 0.0477, 0.0534,
    0.0362, 0.0314, 0.0395, 0.0438, 0.049, 0.0457, 0.0394, 0.0305, 0.038, 0.0335, 0.0311]

SOLUTION_SEED5 = [1.3913, 1.3849, 1.3875, 1.3859, 1.3883, 1.3871, 1.3867, 1.3863, 1.3826, 1.389, 1.3857, 1.385,
    1.3612, 1.2911, 1.2333, 1.1698, 1.0649, 0.9667, 0.9058, 0.8585, 0.8415, 0.8092, 0.7912,
    0.7834, 0.7735, 0.7658, 0.7467, 0.7483, 0.7342, 0.705, 0.686, 0.6672, 0.6353, 0.6426,
    0.7993, 0.8905, 0.8736, 0.8591, 0.7904, 0.7859, 0.7482, 0.7394, 0.7012, 0.7536, 0.6694,
    0.6872, 0.6867, 0.6843, 0.6637, 0.65, 0.6893, 0.6539, 0.6382, 0.6846, 0.6099, 0.6077,
    0.6279, 0.5823, 0.5458, 0.6491, 0.6223, 0.537, 0.5247, 0.5203, 0.5233, 0.5303, 0.5006,
    0.4943, 0.4769, 0.487, 0.4707, 0.4594, 0.4528, 0.4162, 0.4482, 0.4429, 0.4131, 0.4178,
    0.4103, 0.4189, 0.4918, 0.4799, 0.4586, 0.5279, 0.5079, 0.4786, 0.4427, 0.3822, 0.3653,
    0.3956, 0.388, 0.3707, 0.3873, 0.3713, 0.3321, 0.3643, 0.3796, 0.334, 0.3364, 0.323]


def test_echo_score():
    s = ["abcdef", "ghijkl"]
    perfect = ["  abcd", "  ghij"]
    assert echo_score(s, perfect, 2) == 1.0
    assert echo_score(s, perfect, np.int64(2)) == 1.0
    assert echo_score(s, ["abcdef", "  ghij"], [0, 2]) == 1.0  # delay 0 scores every position
    assert echo_score(s, ["xxxxxx", "  ghij"], np.array([0, 2])) == pytest.approx(4 / 10)
    assert echo_score(s, ["  ab", None], 2) == pytest.approx(2 / 8)  # short / wrong type
    assert echo_score(["ab"], ["ab"], 5) == 0.0
    with pytest.raises(ValueError):
        echo_score(s, perfect[:1], 2)
    with pytest.raises(ValueError):
        echo_score(s, perfect, -1)


def test_course_curve_spikes_and_solution_curves_do_not():
    found = spikes(COURSE_SEED1, armed=0.3)
    # 0.0245 -> 1.9249 at epoch 97: back above the initial loss
    assert [(s.start, s.peak) for s in found][-1] == (96, 97)
    assert found[-1].climb > 1.3
    assert spikes(SOLUTION_SEED1, armed=0.3) == []
    assert spikes(SOLUTION_SEED5, armed=0.3) == []  # never below 0.3 x ln 4: nothing counted
    assert worst_climb(SOLUTION_SEED1, armed=0.3) < 0.1


def test_spikes_are_climbs_back_toward_the_initial_loss():
    # jitter near zero is no spike (issue 9: 0.038 -> 0.126 was counted by the old ratio rule)
    assert spikes([1.39, 0.5, 0.1, 0.038, 0.126, 0.04], armed=0.3) == []
    assert worst_climb([1.39, 0.5, 0.1, 0.038, 0.126, 0.04], armed=0.3) == pytest.approx(0.088 / (LN4 - 0.038))
    # the course's spike: 0.0675 -> 2.146
    (s,) = spikes([1.39, 0.5, 0.0675, 2.146, 0.9, 0.05], armed=0.3)
    assert (s.start, s.peak, s.low, s.high) == (3, 3, 0.0675, 2.146) and s.climb > 1.5
    # one excursion is one spike, however many points it spans; a second one counts again
    assert len(spikes([1.39, 0.05, 1.0, 1.2, 0.9, 0.04, 0.03, 1.1, 0.03], armed=0.3)) == 2
    # relapses before the loss is armed (still learning) are not counted
    assert spikes([1.39, 1.0, 0.5, 1.2, 0.45, 0.3], armed=0.3) == []
    assert len(spikes([1.39, 1.0, 0.5, 1.2, 0.45, 0.3], armed=0.5)) == 1
    # the plateau at ln 4 and a smooth descent
    assert spikes([1.39, 1.38, 1.386, 1.387, 1.39, 1.385]) == []
    assert spikes([1.39, 1.0, 0.5, 0.2, 0.1]) == []
    # a non-finite loss climbs all the way
    (s,) = spikes([1.39, 0.1, math.nan, 0.05], armed=0.3)
    assert s.climb == math.inf
    assert spikes([]) == [] and spikes([1.0]) == [] and worst_climb([]) == 0.0
