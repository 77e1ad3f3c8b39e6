"""A ground-truth synthetic cohort written in the exact TCP (ds005237) layout.

The synthetic cohort is the project's embedded default dataset. It is not noise: every
participant is a small generative "digital twin" whose latent traits are written into known
functional-connectivity (FC) edges and drive that participant's behaviour and task BOLD, and the
truth is saved beside the data so that every analysis (FC -> RT prediction, GLM contrasts,
intervention edges, clinical correlations) can be checked against it.

What is written under ``dest`` (paths from :mod:`dtb.layout`)::

    dataset_description.json                        GeneratedBy dtb.data.synth (the marker)
    participants.tsv                                participant_id species age sex Site Group
    sub-NDARINVSYN<ID>/func/*_task-hammerAP_run-01_events.tsv    Emotional Faces, 108 trials
    sub-NDARINV<ID>/func/*_task-stroopAP_run-01_events.tsv    Stroop, 78 trials
    fMRI_timeseries_clean_denoised_GSR_parcellated/NDAR_INV<ID>/task-{restAP,hammerAP,stroopAP}
        _run-01_bold_Atlas_hp2000_clean_GSR_parcellated.h5  key "dataset", float64 (434, T)
    phenotype/synth_measures.tsv (+ .json)          trait-driven and pure-noise measures
    truth/truth.json                                traits, planted edges, parameters, seed

Generative model (all parameters in :class:`SynthConfig`)
---------------------------------------------------------
**Traits.** Each participant has two independent standard-normal traits, ``speed`` (processing
speed) and ``affect`` (amygdala reactivity / negative affect).

**Connectome.** A region's signal is a factor model,
``x_r(t) = a_r g_net(r)(t) + sum_p b f_p,side(r)(t) + sum_k l_rk h_k(t) + sqrt(u_r) e_r(t)``:

* ``g``: one factor per network (17 Schaefer networks shared by both hemispheres, plus medial
  temporal lobe, thalamus, striatum, cerebellum), correlated across networks by a cohort-wide
  matrix, with loadings ``a_r`` of about 0.5 jittered per participant and region, so that
  within-network correlations are about 0.2-0.3 and between-network ones about +-0.1;
* ``f``: for every planted block pair ``p = (A, B)`` two factors, one loaded (``b``) by the
  regions of ``A`` and one by those of ``B``, whose correlation is
  ``rho_p = rho_0 + sign_p * rho_1 * trait + noise``. Every edge between ``A`` and ``B`` then has
  covariance ``b**2 * rho_p``: it rises (sign +1) or falls (sign -1) by ``b**2 * rho_1`` (0.05
  by default, a few hundredths) per SD of the trait, while no other edge depends on the trait;
* ``h``: a few individual factors with random loadings (each connectome's fingerprint);
* ``u_r = 1 - (common variance)``: every region has unit variance, so the model covariance *is*
  the participant's FC (correlation) matrix and stays positive definite.

The rest run is this process filtered by a stationary AR(1) (same coefficient for every
component, which keeps the covariance), so its FC equals the participant's FC in expectation.

**Planted blocks** (Schaefer-400 17-network indices as ordered in the TCP parcellation, left
hemisphere 0-199 and the same offsets + 200 for the right; Tian S2 subcortex 400-431):

==========  ==================================================  ======  =====================
trait       block pair                                          sign    edges
==========  ==================================================  ======  =====================
speed       prefrontal (ContA/ContB/DefaultB PFC) x subcortex   +1      50 x 24 = 1,200
speed       parietal (IPS/SPL/IPL) x subcortex                  +1      34 x 24 = 816
speed       left x right primary motor (SomMotA)                -1      17 x 17 = 289
affect      limbic (amygdala, LimbicA/B) x parietal             +1      32 x 34 = 1,088
affect      temporal (TempPar, DefaultB temporal) x subcortex   +1      26 x 24 = 624
affect      limbic x prefrontal                                 -1      32 x 50 = 1,600
==========  ==================================================  ======  =====================

5,617 of the 93,961 edges (6 %). Subcortex = thalamus + striatum (404-415, 420-431); amygdala =
402, 403, 418, 419. The right hemisphere uses the left's offsets: its order in the TCP
parcellation follows the same networks with a few parcels out of place, which only makes a block
slightly less pure anatomically; the truth lists the exact parcel pairs.

**Behaviour.** Log RT per trial = participant baseline + condition effect + trial noise (plus
rare lapses). The baseline is ``log(median) - speed_effect * speed`` plus individual noise shared
by both tasks and task-specific noise, so ``speed`` explains most but not all of a participant's
mean RT. Faces trials are slower than shapes and incongruent Stroop trials slower than congruent
ones, by individual amounts. Misses (``n/a``) come from a per-participant miss rate and from
responses later than the response window; errors from a per-participant error rate (higher on
incongruent trials). A few participants per task do not perform the task (reversed key mapping,
or random pressing with many misses), so their accuracy is at or below chance, as in the real data.

**Task BOLD.** Responses are HRF-convolved regressors from :func:`nilearn.glm.first_level.
compute_regressor` (Glover HRF), each divided by the peak response to one isolated event of its
duration so that amplitudes read as "peak response to one event, in noise-SD units": visual
cortex to every stimulus and cue, motor/premotor/somatosensory cortex contralateral to the button
pressed (at onset + RT; Faces left/right hand, Stroop right hand), prefrontal and parietal
control regions more to incongruent Stroop words, and the amygdala to faces (face blocks) with an
amplitude ``amygdala_face + amygdala_face_per_affect * affect``; the participant's right-amygdala
face > shape GLM contrast therefore tracks ``affect``. Noise is the participant's FC-structured
process with AR(1), so the data have about unit variance per region (z-scored-like).

**Phenotype.** ``phenotype/synth_measures.tsv`` holds a digit-symbol-like score (correlated with
``speed``), an anxiety-like score (with ``affect``), a functional-impairment score (both) and two
pure-noise measures, with a few ``n/a``.

Reproducibility: one :class:`numpy.random.SeedSequence` from ``seed``; the cohort-wide design
(task trial orders, network structure, response profiles) comes from its first child, and
participant ``k``'s data from the ``k``-th grandchild through the second child, so participant
``k`` is the same whatever the cohort size. The same seed gives byte-identical files.

Timing constants of the tasks (block and trial lengths, display lags, the Stroop ISI set, trial
counts) and the behavioural distributions were derived from the published ds005237 events.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
from scipy.signal import lfilter

from dtb import __version__
from dtb.data.parcellation import network_of_parcels
from dtb.data.regions import target_regions
from dtb.fileio import atomic_path, json_default
from dtb.layout import (
    FACES,
    H5_KEY,
    N_REGIONS,
    PARCELLATED_DIR,
    REST,
    STROOP,
    TR,
    Run,
    events_path,
    timeseries_path,
)

#: Name written into ``dataset_description.json`` ``GeneratedBy``: marks a folder as ours.
GENERATOR = "dtb.data.synth"
TRAITS = ("speed", "affect")
#: Regressor columns of the task-response model (absent conditions are simply zero).
REGRESSORS = ("stimulus", "cue", "face", "shape", "incongruent", "press_left", "press_right")

# ---------------------------------------------------------------------------------------------
# Parcel groups of the 434-region TCP parcellation
# ---------------------------------------------------------------------------------------------


def _bilateral(*spans: tuple[int, int]) -> tuple[int, ...]:
    """Parcels at the given [start, stop) hemisphere offsets, left and right."""
    return tuple(sorted(h + i for h in (0, 200) for lo, hi in spans for i in range(lo, hi)))


#: Named parcel groups used by the planted blocks and the response profiles (0-based indices).
PARCEL_GROUPS: dict[str, tuple[int, ...]] = {
    # ContB FPole/FrMed/PFCd/PFCl/PFCv, ContA PFCd/PFCl, DefaultB PFCd/PFCl/PFCv
    "prefrontal": _bilateral((14, 26), (55, 58), (60, 63), (70, 77)),
    # ContB IPL, ContA IPS, DorsAttnB IPL/SPL, DorsAttnA SPL
    "parietal": _bilateral((58, 60), (65, 70), (118, 120), (128, 132), (135, 139)),
    # TempPar, DefaultB temporal pole and temporal
    "temporal": _bilateral((0, 5), (26, 34)),
    # amygdala (right 402/403, left 418/419), LimbicA and LimbicB
    "limbic": tuple(sorted((402, 403, 418, 419) + _bilateral((80, 94)))),
    "subcortex": tuple(range(404, 416)) + tuple(range(420, 432)),
    "motor_left": tuple(range(161, 178)),
    "motor_right": tuple(range(361, 378)),
    "visual": _bilateral((179, 200)),
    "control_cingulate": (64, 264),
}


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthConfig:
    """Every parameter of the synthetic cohort's generative model.

    Times in seconds, RT effects on the natural-log scale, BOLD amplitudes in noise-SD units (peak
    response to one isolated event), probabilities as fractions.

    Attributes
    ----------
    planted_blocks : tuple of (trait, group_a, group_b, sign)
        Block pairs whose every edge depends on the trait; groups name :data:`PARCEL_GROUPS`.
    network_loading : tuple of float
        Range of the cohort-wide loading of a network's regions on its network factor.
    network_loading_jitter : float
        SD of the log of a participant's per-region multiplier of that loading.
    between_network_sd : float
        SD of the loadings of the 3 random axes that correlate the network factors (cohort-wide).
    task_positive_axis : float
        Weight of the axis that correlates control/attention networks positively and default
        networks negatively with them (the anticorrelation seen after global-signal regression).
    block_loading : float
        Loading ``b`` of a planted block's regions on the block's factor.
    block_coupling : float
        Cohort mean ``rho_0`` of the correlation of the two factors of a block pair.
    block_coupling_per_sd : float
        Change ``rho_1`` of that correlation per SD of the trait.
    block_coupling_noise : float
        SD of the individual, trait-unrelated part of that correlation.
    n_individual_factors : int
        Number of participant-specific factors (connectome fingerprint).
    individual_loading_sd : float
        SD of the loadings on those factors.
    min_unique_variance : float
        Floor of each region's unique variance (loadings are shrunk to keep it).
    ar1 : float
        AR(1) coefficient of every signal component per TR (temporal autocorrelation).
    faces_rt_median, stroop_rt_median : float
        Cohort median RT of the easy condition (shapes; congruent words).
    face_effect, incongruent_effect : float
        Mean log-RT slowing of face trials and of incongruent trials.
    face_effect_sd, incongruent_effect_sd : float
        Between-participant SD of those effects.
    speed_effect : float
        Log-RT decrease per SD of ``speed``.
    rt_individual_sd : float
        SD of the participant's trait-unrelated log-RT offset, shared by both tasks.
    rt_task_sd : float
        SD of the task-specific log-RT offset.
    faces_trial_sd, stroop_trial_sd : float
        Median within-participant SD of trial log-RT.
    trial_sd_jitter : float
        SD of the log of the participant's multiplier of the trial SD.
    lapse_rate, lapse_scale : float
        Probability of an attentional lapse on a trial and the mean (exponential) delay it adds.
    stroop_max_rt : float
        Longest Stroop response recorded; a response also has to come 0.25 s before the next
        trial. Faces responses must come while the images are shown.
    miss_rate, miss_logit_sd : float
        Median per-participant rate of trials without a response and the logit-scale SD.
    faces_error_rate, stroop_error_rate : float
        Median per-participant error rate (shape/face trials; congruent words).
    error_logit_sd : float
        Between-participant logit-scale SD of the error rate.
    incongruent_error_logit : float
        Log-odds increase of an error on incongruent trials.
    nonperformer_rate : float
        Probability that a participant does not perform a task (reversed key mapping, or random
        pressing with many misses), giving accuracy at or below chance.
    patient_fraction, patient_affect_logit : float
        Fraction of patients (``Group``) and the log-odds increase of being a patient per SD of
        ``affect``.
    hrf_oversampling : int
        Oversampling of nilearn's regressor computation.
    press_duration : float
        Duration of the motor event that follows a press.
    stroop_display : float
        Seconds a Stroop word is on screen (the rest of its ``duration`` is the ISI).
    response_visual, response_visual_dorsal, response_parietal, response_prefrontal : float
        Response to every stimulus of visual cortex, dorsal-attention visual, parietal and
        prefrontal regions.
    response_cue_visual, response_cue_prefrontal : float
        Response to the Faces cue screen.
    response_face_visual : float
        Extra response of higher visual cortex to faces.
    amygdala_face, amygdala_face_per_affect, amygdala_face_noise : float
        Right-amygdala response to faces: cohort mean, change per SD of ``affect``, individual
        trait-unrelated SD. The left amygdala gets ``amygdala_left_ratio`` of it.
    amygdala_left_ratio : float
        Left/right ratio of the amygdala face response.
    amygdala_shape : float
        Amygdala response to shapes.
    response_incongruent_prefrontal, response_incongruent_parietal : float
        Extra response of prefrontal/cingulate control and parietal regions to incongruent words.
    response_press_contra, response_press_premotor, response_press_ipsi : float
        Response of contralateral M1/S1, contralateral premotor and ipsilateral M1 to a press.
    response_gain_sd : float
        SD of the log of a participant's per-regressor response gain.
    response_region_sd : float
        SD of the log of a participant's per-parcel, per-regressor response gain.
    digit_symbol_r, anxiety_r : float
        Correlation of the digit-symbol-like score with ``speed`` and of the anxiety-like score
        with ``affect``.
    impairment_speed_r, impairment_affect_r : float
        Loadings of the impairment score on ``speed`` and ``affect``.
    phenotype_missing : float
        Fraction of missing phenotype values.
    """

    planted_blocks: tuple[tuple[str, str, str, int], ...] = (
        ("speed", "prefrontal", "subcortex", 1),
        ("speed", "parietal", "subcortex", 1),
        ("speed", "motor_left", "motor_right", -1),
        ("affect", "limbic", "parietal", 1),
        ("affect", "temporal", "subcortex", 1),
        ("affect", "limbic", "prefrontal", -1),
    )
    network_loading: tuple[float, float] = (0.42, 0.58)
    network_loading_jitter: float = 0.12
    between_network_sd: float = 0.3
    task_positive_axis: float = 0.4
    block_loading: float = 0.35
    block_coupling: float = 0.2
    block_coupling_per_sd: float = 0.4
    block_coupling_noise: float = 0.05
    n_individual_factors: int = 8
    individual_loading_sd: float = 0.1
    min_unique_variance: float = 0.1
    ar1: float = 0.4
    # behaviour
    faces_rt_median: float = 0.76
    stroop_rt_median: float = 0.76
    face_effect: float = 0.13
    incongruent_effect: float = 0.21
    face_effect_sd: float = 0.08
    incongruent_effect_sd: float = 0.08
    speed_effect: float = 0.15
    rt_individual_sd: float = 0.05
    rt_task_sd: float = 0.04
    faces_trial_sd: float = 0.23
    stroop_trial_sd: float = 0.26
    trial_sd_jitter: float = 0.15
    lapse_rate: float = 0.01
    lapse_scale: float = 0.6
    stroop_max_rt: float = 4.0
    miss_rate: float = 0.0025
    miss_logit_sd: float = 2.0
    faces_error_rate: float = 0.012
    stroop_error_rate: float = 0.015
    error_logit_sd: float = 1.4
    incongruent_error_logit: float = 1.7
    nonperformer_rate: float = 0.03
    patient_fraction: float = 0.61
    patient_affect_logit: float = 1.0
    # task BOLD
    hrf_oversampling: int = 16
    press_duration: float = 0.4
    stroop_display: float = 2.0
    response_visual: float = 1.0
    response_visual_dorsal: float = 0.5
    response_parietal: float = 0.4
    response_prefrontal: float = 0.2
    response_cue_visual: float = 0.6
    response_cue_prefrontal: float = 0.3
    response_face_visual: float = 0.3
    amygdala_face: float = 0.5
    amygdala_face_per_affect: float = 0.3
    amygdala_face_noise: float = 0.08
    amygdala_left_ratio: float = 0.7
    amygdala_shape: float = 0.1
    response_incongruent_prefrontal: float = 0.6
    response_incongruent_parietal: float = 0.3
    response_press_contra: float = 1.0
    response_press_premotor: float = 0.6
    response_press_ipsi: float = 0.15
    response_gain_sd: float = 0.2
    response_region_sd: float = 0.1
    # phenotype
    digit_symbol_r: float = 0.6
    anxiety_r: float = 0.6
    impairment_speed_r: float = -0.3
    impairment_affect_r: float = 0.3
    phenotype_missing: float = 0.03

    def __post_init__(self) -> None:
        for trait, a, b, sign in self.planted_blocks:
            if trait not in TRAITS:
                raise ValueError(f"planted block trait {trait!r} is not one of {TRAITS}")
            for g in (a, b):
                if g not in PARCEL_GROUPS:
                    raise ValueError(f"unknown parcel group {g!r}; known: {sorted(PARCEL_GROUPS)}")
            if set(PARCEL_GROUPS[a]) & set(PARCEL_GROUPS[b]):
                raise ValueError(f"planted block {a} x {b}: the groups overlap")
            if sign not in (-1, 1):
                raise ValueError(f"planted block sign must be +1 or -1, got {sign!r}")
        if not 0 <= self.ar1 < 1:
            raise ValueError(f"ar1 must be in [0, 1), got {self.ar1}")

    def to_dict(self) -> dict[str, Any]:
        """All parameters as a JSON-ready dictionary."""
        return json.loads(json.dumps(asdict(self)))


# ---------------------------------------------------------------------------------------------
# Cohort-wide structure (shared by every participant)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cohort:
    network: np.ndarray  # (434,) network index per parcel
    network_chol: np.ndarray  # (K, K) Cholesky factor of the network-factor correlation
    network_loading: np.ndarray  # (K,) cohort loading per network
    block_a: tuple[np.ndarray, ...]  # per planted pair: parcels of side A
    block_b: tuple[np.ndarray, ...]
    profile: np.ndarray  # (434, len(REGRESSORS)) baseline response amplitudes
    amygdala: tuple[np.ndarray, np.ndarray]  # right, left amygdala parcels
    faces: pd.DataFrame  # the Faces design shared by all participants (nominal times)
    stroop: pd.DataFrame  # the Stroop design shared by all participants
    extra: dict[str, Any] = field(default_factory=dict)


def _seed_streams(seed: int) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """(cohort stream, parent of the participants' streams) for a seed."""
    cohort_ss, people_ss = np.random.SeedSequence(seed).spawn(2)
    return cohort_ss, people_ss


def _build_cohort(rng: np.random.Generator, cfg: SynthConfig) -> _Cohort:
    net, names = network_of_parcels()
    k = len(names)
    # Between-network correlation: a few random axes plus the task-positive/default axis
    # (attention/control up, default down), made a proper correlation matrix.
    axes = rng.normal(0.0, cfg.between_network_sd, size=(k, 3))
    tp = np.zeros(k)
    for i, n in enumerate(names):
        if n.startswith(("DorsAttn", "SalVent", "Cont")):
            tp[i] = 1.0
        elif n.startswith("Default"):
            tp[i] = -1.0
    w = np.column_stack([axes, cfg.task_positive_axis * tp])
    cov = w @ w.T + np.eye(k)
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd)
    loading = rng.uniform(*cfg.network_loading, size=k)

    block_a = tuple(np.array(PARCEL_GROUPS[a]) for _, a, _, _ in cfg.planted_blocks)
    block_b = tuple(np.array(PARCEL_GROUPS[b]) for _, _, b, _ in cfg.planted_blocks)

    profile = _response_profile(cfg)
    tr = target_regions().set_index("target")["parcels"]
    amy = (np.array(tr["AMY_R"]), np.array(tr["AMY_L"]))
    return _Cohort(
        network=net,
        network_chol=np.linalg.cholesky(corr),
        network_loading=loading,
        block_a=block_a,
        block_b=block_b,
        profile=profile,
        amygdala=amy,
        faces=_faces_design(rng),
        stroop=_stroop_design(rng),
        extra={"network_names": names, "network_correlation": corr},
    )


def _response_profile(cfg: SynthConfig) -> np.ndarray:
    """Baseline response amplitudes, shape (434, len(REGRESSORS)); amygdala faces set per person."""
    tr = target_regions().set_index("target")["parcels"]
    p = np.zeros((N_REGIONS, len(REGRESSORS)))
    col = {name: i for i, name in enumerate(REGRESSORS)}

    def put(parcels, name, value):
        p[np.asarray(parcels, dtype=int), col[name]] = value

    put(PARCEL_GROUPS["visual"], "stimulus", cfg.response_visual)
    put(_bilateral((133, 144)), "stimulus", cfg.response_visual_dorsal)  # DorsAttnA
    put(PARCEL_GROUPS["parietal"], "stimulus", cfg.response_parietal)
    put(PARCEL_GROUPS["prefrontal"], "stimulus", cfg.response_prefrontal)
    put(PARCEL_GROUPS["visual"], "cue", cfg.response_cue_visual)
    put(PARCEL_GROUPS["prefrontal"], "cue", cfg.response_cue_prefrontal)
    put(tr["HVC_L"] + tr["HVC_R"], "face", cfg.response_face_visual)
    put(tr["AMY_L"] + tr["AMY_R"], "shape", cfg.amygdala_shape)
    for parcels in (
        PARCEL_GROUPS["prefrontal"],
        tr["aPFC_L"] + tr["aPFC_R"],
        tr["VLPFC_L"] + tr["VLPFC_R"],
        PARCEL_GROUPS["control_cingulate"],
    ):
        put(parcels, "incongruent", cfg.response_incongruent_prefrontal)
    put(PARCEL_GROUPS["parietal"], "incongruent", cfg.response_incongruent_parietal)
    # A left-hand press drives the right hemisphere, a right-hand press the left one.
    for press, contra, ipsi in (("press_left", "R", "L"), ("press_right", "L", "R")):
        put(tr[f"M1_{contra}"] + tr[f"S1_{contra}"], press, cfg.response_press_contra)
        put(tr[f"PMC_{contra}"], press, cfg.response_press_premotor)
        put(tr[f"M1_{ipsi}"], press, cfg.response_press_ipsi)
    return p


# ---- task designs (cohort-wide, like the real protocol, which shows everyone the same order) ---

#: Faces (hammerAP) timing: 4 countdown screens of 2 s, then 18 blocks of a 3 s cue and six 3 s
#: trials (about 2 s of images, 1 s of fixation), alternating shapes and faces, shapes first.
FACES_TIMING = {
    "first_cue": 8.0,
    "block": 21.0,
    "cue": 3.0,
    "trial": 3.0,
    "n_blocks": 18,
    "trials_per_block": 6,
    "first_cue_lag": 0.03,
    "cue_lag": 0.10,
    "cue_lag_drift": 0.0018,
    "cue_lag_sd": 0.02,
    "cue_duration": 2.915,
    "cue_duration_sd": 0.015,
    "first_onset_lag": 0.09,
    "onset_lag": 0.167,
    "onset_lag_sd": 0.032,
    "image_end": 2.03,
    "image_end_sd": 0.015,
    "fix_gap": 0.004,
    "fix_end": 3.03,
    "run_end": 394.43,
    "run_end_sd": 0.02,
}
#: Stroop (stroopAP) timing: first word at 2 s; each trial lasts one of three durations (word +
#: variable ISI), with 25, 26 and 27 trials of 2.25, 4.5 and 8.25 s; 54 congruent (18 per colour)
#: and 24 incongruent (4 per word/ink combination) trials.
STROOP_TIMING = {
    "first_onset": 2.0,
    "durations": (2.25, 4.5, 8.25),
    "n_per_duration": (25, 26, 27),
    "n_congruent_each": 18,
    "n_incongruent_each": 4,
}
#: Stroop trial types: (word, ink) per BIDS level (the dataset's events sidecar).
STROOP_TYPES = {
    "con1": ("red", "red"),
    "con2": ("green", "green"),
    "con3": ("blue", "blue"),
    "inc1": ("green", "red"),
    "inc2": ("blue", "red"),
    "inc3": ("red", "green"),
    "inc4": ("blue", "green"),
    "inc5": ("red", "blue"),
    "inc6": ("green", "blue"),
}
SHAPES = ("circle.bmp", "oval-horizontal.bmp", "oval-vertical.bmp")


@cache
def _face_families() -> tuple[tuple[str, ...], ...]:
    """Face image names in the style of the task's stimulus sets, grouped so that a distractor
    comes from the target's own set (same sex and expression)."""
    fams = []
    for sex, nums in (("F", range(1, 20)), ("M", range(20, 44))):
        for emo in ("AN", "FE"):
            keep = [n for n in nums if (n % 2 == 0) == (emo == "AN")]
            fams.append(tuple(f"{n:02d}{sex}_{emo}_O.jpg" for n in keep))
    for sex in "FM":
        for emo in "AF":
            fams.append(tuple(f"{sex}{emo}{xz}_{n}.jpg" for xz in "XZ" for n in range(16, 140, 9)))
    return tuple(fams)


def _faces_design(rng: np.random.Generator) -> pd.DataFrame:
    t = FACES_TIMING
    n_b, n_t = t["n_blocks"], t["trials_per_block"]
    block = np.repeat(np.arange(n_b), n_t)
    kind = np.where(block % 2 == 0, "shape", "face")
    within = np.tile(np.arange(n_t), n_b)
    slot = t["first_cue"] + t["block"] * block + t["cue"] + t["trial"] * within
    # the matching image is bottom-left on exactly half of the trials of each kind
    left = np.zeros(len(block), dtype=bool)
    for k in ("shape", "face"):
        idx = np.flatnonzero(kind == k)
        left[rng.permutation(idx)[: len(idx) // 2]] = True
    fams = _face_families()
    tops, others = [], []
    for k in kind:
        if k == "shape":
            top, other = rng.choice(len(SHAPES), size=2, replace=False)
            tops.append(SHAPES[top])
            others.append(SHAPES[other])
        else:
            fam = fams[rng.integers(len(fams))]
            top, other = rng.choice(len(fam), size=2, replace=False)
            tops.append(fam[top])
            others.append(fam[other])
    tops_a, others_a = np.array(tops), np.array(others)
    return pd.DataFrame(
        {
            "block": block,
            "trial_type": kind,
            "slot": slot,
            "stimLeft": np.where(left, tops_a, others_a),
            "stimTop": tops_a,
            "stimRight": np.where(left, others_a, tops_a),
            "correct": np.where(left, 0, 1),
        }
    )


def _stroop_design(rng: np.random.Generator) -> pd.DataFrame:
    t = STROOP_TIMING
    types = [f"con{i}" for i in (1, 2, 3) for _ in range(t["n_congruent_each"])]
    types += [f"inc{i}" for i in range(1, 7) for _ in range(t["n_incongruent_each"])]
    types = list(rng.permutation(types))
    dur = np.repeat(t["durations"], t["n_per_duration"])
    dur = rng.permutation(dur)
    if len(dur) != len(types):
        raise AssertionError("Stroop durations and trial types disagree in number")
    onset = t["first_onset"] + np.concatenate([[0.0], np.cumsum(dur)[:-1]])
    word = [STROOP_TYPES[x][0] for x in types]
    ink = [STROOP_TYPES[x][1] for x in types]
    return pd.DataFrame(
        {
            "onset": onset,
            "duration": dur,
            "trial_type": types,
            "stimulus_text": word,
            "stimulus_color": ink,
            "correct": [("red", "green", "blue").index(c) for c in ink],
        }
    )


# ---------------------------------------------------------------------------------------------
# Participants
# ---------------------------------------------------------------------------------------------

_LETTERS = np.array(list("ABCDEFGHJKLMNPRSTUVWXYZ"))
_ALNUM = np.array(list("ABCDEFGHJKLMNPRSTUVWXYZ0123456789"))
#: Start of every synthetic participant's NDA id (``sub-NDARINVSYN<5 characters>``), so that a
#: synthetic id is recognisable as such in the real ids' layout.
SYNTHETIC_MARK = "SYN"
_STREAMS = (
    "person",
    "connectome",
    "faces_events",
    "stroop_events",
    "rest",
    "faces_bold",
    "stroop_bold",
)


def _participant_streams(people_ss: np.random.SeedSequence, n: int) -> list[dict[str, Any]]:
    return [dict(zip(_STREAMS, ss.spawn(len(_STREAMS)), strict=True)) for ss in people_ss.spawn(n)]


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def _expit(x: float) -> float:
    return float(1 / (1 + np.exp(-x)))


def _draw_person(rng: np.random.Generator, cfg: SynthConfig) -> dict[str, Any]:
    """Identity, demographics, traits and behavioural parameters of one participant."""
    pid = (
        "".join(rng.choice(_LETTERS, 2))
        + "".join(str(d) for d in rng.integers(0, 10, 3))
        + "".join(rng.choice(_ALNUM, 3))
    )
    # Same length as a real NDA GUID, but marked: a synthetic id starts NDARINV"SYN". The
    # characters are drawn as before, so every other value of the cohort is unchanged.
    pid = SYNTHETIC_MARK + pid[len(SYNTHETIC_MARK) :]
    speed, affect = rng.standard_normal(2)
    # real cohort: age 18-68, mean ~34, right-skewed
    age = float(np.clip(18 + rng.gamma(1.3, 12.5), 18, 68))
    sex = str(rng.choice(["F", "M", "O"], p=[0.57, 0.415, 0.015]))
    site = int(rng.choice([1, 2], p=[0.56, 0.44]))
    p_patient = _expit(_logit(cfg.patient_fraction) + cfg.patient_affect_logit * affect)
    patient = rng.random() < p_patient
    shared = rng.standard_normal()
    person: dict[str, Any] = {
        "participant_id": f"sub-NDARINV{pid}",
        "age": round(age, 2),
        "sex": sex,
        "Site": site,
        "Group": "Patient" if patient else "GenPop",
        "speed": float(speed),
        "affect": float(affect),
    }
    for task, median, effect, effect_sd, trial_sd, err in (
        (
            "faces",
            cfg.faces_rt_median,
            cfg.face_effect,
            cfg.face_effect_sd,
            cfg.faces_trial_sd,
            cfg.faces_error_rate,
        ),
        (
            "stroop",
            cfg.stroop_rt_median,
            cfg.incongruent_effect,
            cfg.incongruent_effect_sd,
            cfg.stroop_trial_sd,
            cfg.stroop_error_rate,
        ),
    ):
        z = rng.standard_normal(5)
        person[f"{task}_log_rt"] = float(
            np.log(median)
            - cfg.speed_effect * speed
            + cfg.rt_individual_sd * shared
            + cfg.rt_task_sd * z[0]
        )
        person[f"{task}_effect"] = float(effect + effect_sd * z[1])
        person[f"{task}_trial_sd"] = float(trial_sd * np.exp(cfg.trial_sd_jitter * z[2]))
        person[f"{task}_miss_rate"] = _expit(_logit(cfg.miss_rate) + cfg.miss_logit_sd * z[3])
        person[f"{task}_error_rate"] = _expit(_logit(err) + cfg.error_logit_sd * z[4])
        mode = "performer"
        if rng.random() < cfg.nonperformer_rate:
            mode = "reversed" if rng.random() < 0.5 else "random"
        person[f"{task}_mode"] = mode
        if mode == "random":
            person[f"{task}_miss_rate"] = float(rng.uniform(0.1, 0.5))
    person["amygdala_face"] = float(
        cfg.amygdala_face
        + cfg.amygdala_face_per_affect * affect
        + cfg.amygdala_face_noise * rng.standard_normal()
    )
    return person


def draw_cohort(
    n_participants: int, seed: int, config: SynthConfig = SynthConfig()
) -> pd.DataFrame:
    """The participant-level truth of a synthetic cohort, without writing anything.

    Parameters
    ----------
    n_participants : int
    seed : int
    config : SynthConfig

    Returns
    -------
    people : pandas.DataFrame, shape (n_participants, n_fields)
        ``participant_id``, demographics (``age``, ``sex``, ``Site``, ``Group``), the traits
        ``speed`` and ``affect``, and per task (``faces_``/``stroop_`` prefix) the behavioural
        parameters: ``log_rt`` (baseline log RT of the easy condition), ``effect`` (log-RT
        slowing of faces / incongruent words), ``trial_sd``, ``miss_rate``, ``error_rate`` and
        ``mode`` (``performer``, ``reversed`` or ``random``); ``amygdala_face`` (right-amygdala
        response amplitude to faces). Row ``k`` is the same for any ``n_participants > k``.
    """
    n = _check_n(n_participants)
    _, people_ss = _seed_streams(_check_seed(seed))
    streams = _participant_streams(people_ss, n)
    return pd.DataFrame(_people(streams, config)[0])


def _people(
    streams: list[dict[str, Any]], cfg: SynthConfig
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Participant-level truth and phenotype values, one dict each per participant."""
    people, measures, seen = [], [], set()
    for s in streams:
        rng = np.random.default_rng(s["person"])
        person = _draw_person(rng, cfg)
        # ids are random, so two could coincide (p ~ 1e-8 per pair); redraw from this
        # participant's own stream, which leaves every other participant untouched
        while person["participant_id"] in seen:
            tail = "".join(rng.choice(_ALNUM, 8 - len(SYNTHETIC_MARK)))
            person["participant_id"] = f"sub-NDARINV{SYNTHETIC_MARK}{tail}"
        seen.add(person["participant_id"])
        people.append(person)
        measures.append({"participant_id": person["participant_id"], **_measures(rng, person, cfg)})
    return people, measures


# ---- connectome --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Connectome:
    loadings: np.ndarray  # (434, K + 2P + n_ind)
    unique_sd: np.ndarray  # (434,)
    coupling: np.ndarray  # (P,) correlation of each planted pair's two factors
    network_chol: np.ndarray
    n_networks: int

    def signals(self, n_vol: int, rng: np.random.Generator, ar1: float) -> np.ndarray:
        """Unit-variance signals with this covariance, AR(1) in time, shape (434, n_vol)."""
        k, p = self.n_networks, len(self.coupling)
        n_ind = self.loadings.shape[1] - k - 2 * p
        h = rng.standard_normal((k + 2 * p + n_ind, n_vol))
        g = self.network_chol @ h[:k]
        fa = h[k : k + p]
        rho = self.coupling[:, None]
        fb = rho * fa + np.sqrt(1 - rho**2) * h[k + p : k + 2 * p]
        factors = np.vstack([g, fa, fb, h[k + 2 * p :]])
        unique = self.unique_sd[:, None] * rng.standard_normal((N_REGIONS, n_vol))
        x = self.loadings @ factors + unique
        if ar1 > 0:
            # start in the stationary state, then y_t = ar1 y_{t-1} + sqrt(1 - ar1^2) x_t keeps
            # the covariance of x at every lag-0 and only adds autocorrelation
            x[:, 0] /= np.sqrt(1 - ar1**2)
            x = lfilter([np.sqrt(1 - ar1**2)], [1.0, -ar1], x, axis=1)
        return x

    def correlation(self) -> np.ndarray:
        """The model's correlation matrix (the participant's true FC), shape (434, 434)."""
        k, p = self.n_networks, len(self.coupling)
        n_f = self.loadings.shape[1]
        cov_f = np.eye(n_f)
        cov_f[:k, :k] = self.network_chol @ self.network_chol.T
        idx = np.arange(p)
        cov_f[k + idx, k + p + idx] = self.coupling
        cov_f[k + p + idx, k + idx] = self.coupling
        cov = self.loadings @ cov_f @ self.loadings.T + np.diag(self.unique_sd**2)
        sd = np.sqrt(np.diag(cov))
        return cov / np.outer(sd, sd)


def _draw_connectome(
    rng: np.random.Generator, person: dict[str, Any], cohort: _Cohort, cfg: SynthConfig
) -> _Connectome:
    k = cohort.network_chol.shape[0]
    p = len(cfg.planted_blocks)
    load = np.zeros((N_REGIONS, k + 2 * p + cfg.n_individual_factors))
    a = cohort.network_loading[cohort.network] * np.exp(
        cfg.network_loading_jitter * rng.standard_normal(N_REGIONS)
    )
    load[np.arange(N_REGIONS), cohort.network] = a
    for j in range(p):
        load[cohort.block_a[j], k + j] = cfg.block_loading
        load[cohort.block_b[j], k + p + j] = cfg.block_loading
    load[:, k + 2 * p :] = cfg.individual_loading_sd * rng.standard_normal(
        (N_REGIONS, cfg.n_individual_factors)
    )
    coupling = np.array(
        [
            cfg.block_coupling + sign * cfg.block_coupling_per_sd * person[trait]
            for trait, _, _, sign in cfg.planted_blocks
        ]
    ) + cfg.block_coupling_noise * rng.standard_normal(p)
    coupling = np.clip(coupling, -0.95, 0.95)
    common = (load**2).sum(axis=1)
    limit = 1 - cfg.min_unique_variance
    shrink = np.sqrt(np.minimum(1.0, limit / common))
    load *= shrink[:, None]
    unique = 1 - (load**2).sum(axis=1)
    return _Connectome(load, np.sqrt(unique), coupling, cohort.network_chol, k)


# ---- behaviour and events ----------------------------------------------------------------------


def _responses(
    rng: np.random.Generator,
    person: dict[str, Any],
    task: str,
    hard: np.ndarray,
    window: np.ndarray,
    n_buttons: int,
    cfg: SynthConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-trial RT (NaN = miss), accuracy (0/1) and pressed button offset (0 = correct)."""
    n = len(hard)
    log_rt = (
        person[f"{task}_log_rt"]
        + person[f"{task}_effect"] * hard
        + person[f"{task}_trial_sd"] * rng.standard_normal(n)
    )
    rt = np.exp(log_rt)
    lapse = rng.random(n) < cfg.lapse_rate
    rt = rt + lapse * rng.exponential(cfg.lapse_scale, n)
    miss = (rng.random(n) < person[f"{task}_miss_rate"]) | (rt >= window)
    err_logit = _logit(person[f"{task}_error_rate"]) + cfg.incongruent_error_logit * hard * (
        task == "stroop"
    )
    p_err = 1 / (1 + np.exp(-err_logit))
    mode = person[f"{task}_mode"]
    if mode == "reversed":
        p_err = 1 - p_err
    elif mode == "random":
        p_err = np.full(n, 1 - 1 / n_buttons)
    error = rng.random(n) < p_err
    wrong = rng.integers(1, n_buttons, n)  # which wrong button (offset from the correct one)
    rt = np.where(miss, np.nan, rt)
    acc = np.where(miss | error, 0.0, 1.0)
    offset = np.where(miss, -1, np.where(error, wrong, 0))
    return rt, acc, offset


def _faces_events(rng: np.random.Generator, person: dict, cohort: _Cohort, cfg: SynthConfig):
    d, t = cohort.faces, FACES_TIMING
    n = len(d)
    slot = d["slot"].to_numpy()
    first = np.arange(n) % t["trials_per_block"] == 0
    block = d["block"].to_numpy()
    # display lags: the first cue comes almost on time, later ones drift a little later
    cue_lag = np.where(block == 0, t["first_cue_lag"], t["cue_lag"] + t["cue_lag_drift"] * block)
    cue_start = (
        t["first_cue"]
        + t["block"] * block
        + (cue_lag + t["cue_lag_sd"] * rng.standard_normal(n)).clip(0.0, 0.3)
    )
    cue_end = cue_start + rng.normal(t["cue_duration"], t["cue_duration_sd"], n).clip(2.8, 2.99)
    # the display's lag at trial start varies (less after a cue), but the images leave on the
    # nominal clock
    lag = np.where(first, t["first_onset_lag"], t["onset_lag"])
    onset = slot + (lag + t["onset_lag_sd"] * rng.standard_normal(n)).clip(0.05, 0.26)
    trial_end = slot + rng.normal(t["image_end"], t["image_end_sd"], n).clip(2.01, 2.065)
    fix_start = trial_end + t["fix_gap"] + rng.uniform(0, 0.03, n)
    fix_end = trial_end + (t["fix_end"] - t["image_end"]) + rng.normal(0, 0.003, n)
    run_end = np.full(n, np.nan)
    run_end[-1] = t["run_end"] + t["run_end_sd"] * rng.standard_normal()
    duration = trial_end - onset
    face = (d["trial_type"] == "face").to_numpy().astype(float)
    rt, acc, offset = _responses(rng, person, "faces", face, duration, 2, cfg)
    correct = d["correct"].to_numpy()
    pressed = np.where(offset < 0, -1, np.where(offset == 0, correct, 1 - correct))
    events = pd.DataFrame(
        {
            "onset": onset,
            "duration": duration,
            "trial_type": d["trial_type"],
            "response_time": rt,
            "accuracy_binarized": acc,
            "tr_seconds": TR,
            "cueStartTime": np.where(first, cue_start, np.nan),
            "cueEndTime": np.where(first, cue_end, np.nan),
            "trialEndTime": trial_end,
            "fixStartTime": fix_start,
            "fixEndTime": fix_end,
            "runEndTime": run_end,
            "stimLeft": d["stimLeft"],
            "stimTop": d["stimTop"],
            "stimRight": d["stimRight"],
        }
    )
    return events, pressed


def _stroop_events(rng: np.random.Generator, person: dict, cohort: _Cohort, cfg: SynthConfig):
    d = cohort.stroop
    inc = d["trial_type"].str.startswith("inc").to_numpy().astype(float)
    window = np.minimum(d["duration"].to_numpy() - 0.25, cfg.stroop_max_rt)
    rt, acc, offset = _responses(rng, person, "stroop", inc, window, 3, cfg)
    pressed = np.where(offset < 0, -1, (d["correct"].to_numpy() + np.maximum(offset, 0)) % 3)
    events = pd.DataFrame(
        {
            "onset": d["onset"],
            "duration": d["duration"],
            "trial_type": d["trial_type"],
            "response_time": rt,
            "accuracy_binarized": acc,
            "tr_seconds": TR,
            "stimulus_text": d["stimulus_text"],
            "stimulus_color": d["stimulus_color"],
        }
    )
    return events, pressed


# ---- task BOLD ---------------------------------------------------------------------------------


@cache
def _event_peak(duration: float) -> float:
    """Peak of nilearn's Glover regressor for one isolated event of this duration."""
    from nilearn.glm.first_level import compute_regressor

    # a fine frame grid (80 ms, x4 oversampling) finds the peak to <1 %; finer grids only make
    # nilearn's direct convolution slow
    frames = np.arange(0.0, 40.0, 0.08)
    event = np.array([[5.0], [duration], [1.0]])
    reg, _ = compute_regressor(event, "glover", frames, oversampling=4)
    return float(reg.max())


def _regressor(
    onsets: np.ndarray,
    durations: np.ndarray | float,
    frames: np.ndarray,
    ref_duration: float,
    cfg: SynthConfig,
) -> np.ndarray:
    from nilearn.glm.first_level import compute_regressor

    onsets = np.asarray(onsets, dtype=float)
    if onsets.size == 0:
        return np.zeros(len(frames))
    cond = np.vstack([onsets, np.broadcast_to(durations, onsets.shape), np.ones_like(onsets)])
    reg, _ = compute_regressor(cond, "glover", frames, oversampling=cfg.hrf_oversampling)
    return reg[:, 0] / _event_peak(float(ref_duration))


def _task_regressors(
    events: pd.DataFrame, pressed: np.ndarray, run: Run, cfg: SynthConfig
) -> np.ndarray:
    """HRF-convolved task regressors, shape (len(REGRESSORS), n_volumes)."""
    frames = np.arange(run.n_volumes) * TR
    out = np.zeros((len(REGRESSORS), run.n_volumes))
    col = {name: i for i, name in enumerate(REGRESSORS)}
    onset = events["onset"].to_numpy(float)
    rt = events["response_time"].to_numpy(float)
    press_t = onset + np.nan_to_num(rt)
    if run == FACES:
        dur = events["duration"].to_numpy(float)
        ref = FACES_TIMING["image_end"] - FACES_TIMING["onset_lag"]  # typical image duration
        out[col["stimulus"]] = _regressor(onset, dur, frames, ref, cfg)
        cs = events["cueStartTime"].to_numpy(float)
        ce = events["cueEndTime"].to_numpy(float)
        ok = np.isfinite(cs)
        out[col["cue"]] = _regressor(cs[ok], (ce - cs)[ok], frames, FACES_TIMING["cue"], cfg)
        face = (events["trial_type"] == "face").to_numpy()
        out[col["face"]] = _regressor(onset[face], dur[face], frames, ref, cfg)
        out[col["shape"]] = _regressor(onset[~face], dur[~face], frames, ref, cfg)
        for button, name in ((0, "press_left"), (1, "press_right")):
            sel = pressed == button
            out[col[name]] = _regressor(
                press_t[sel], cfg.press_duration, frames, cfg.press_duration, cfg
            )
    else:
        disp = np.minimum(events["duration"].to_numpy(float), cfg.stroop_display)
        out[col["stimulus"]] = _regressor(onset, disp, frames, cfg.stroop_display, cfg)
        inc = events["trial_type"].astype(str).str.startswith("inc").to_numpy()
        out[col["incongruent"]] = _regressor(onset[inc], disp[inc], frames, cfg.stroop_display, cfg)
        sel = pressed >= 0  # all three colour buttons are right-hand fingers
        out[col["press_right"]] = _regressor(
            press_t[sel], cfg.press_duration, frames, cfg.press_duration, cfg
        )
    return out


def _response_amplitudes(
    rng: np.random.Generator, person: dict[str, Any], cohort: _Cohort, cfg: SynthConfig
) -> np.ndarray:
    """The participant's response amplitudes, shape (434, len(REGRESSORS))."""
    gain = np.exp(cfg.response_gain_sd * rng.standard_normal(len(REGRESSORS)))
    local = np.exp(cfg.response_region_sd * rng.standard_normal(cohort.profile.shape))
    amp = cohort.profile * gain[None, :] * local
    face = REGRESSORS.index("face")
    right, left = cohort.amygdala
    amp[right, face] = person["amygdala_face"]
    amp[left, face] = cfg.amygdala_left_ratio * person["amygdala_face"]
    return amp


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------

_FACES_COLUMNS = (
    "onset",
    "duration",
    "trial_type",
    "response_time",
    "accuracy_binarized",
    "tr_seconds",
    "cueStartTime",
    "cueEndTime",
    "trialEndTime",
    "fixStartTime",
    "fixEndTime",
    "runEndTime",
    "stimLeft",
    "stimTop",
    "stimRight",
)
_STROOP_COLUMNS = (
    "onset",
    "duration",
    "trial_type",
    "response_time",
    "accuracy_binarized",
    "tr_seconds",
    "stimulus_text",
    "stimulus_color",
)


def _fmt(x: Any) -> str:
    if isinstance(x, str):
        return x
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    # repr of a rounded float is the shortest exact text: "2.0", "4.25", "0.803127"
    return repr(round(float(x), 6))


def _tsv(df: pd.DataFrame, columns: tuple[str, ...]) -> str:
    cols = [df[c].tolist() for c in columns]
    lines = ["\t".join(columns)]
    lines += ["\t".join(_fmt(v) for v in row) for row in zip(*cols, strict=True)]
    return "\n".join(lines) + "\n"


#: Permissions of written files: a dataset is for reading by anyone (temporary files are 0600).
_FILE_MODE = 0o644


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(_FILE_MODE)


def _write_h5(path: Path, data: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        # no timestamps, so that the same seed gives byte-identical files
        with h5py.File(tmp, "w") as f:
            f.create_dataset(
                H5_KEY, data=np.ascontiguousarray(data, dtype=np.float64), track_times=False
            )
        tmp.chmod(_FILE_MODE)


def _json_text(obj: Any) -> str:
    text = json.dumps(obj, indent=2, default=json_default)
    # keep (i, j) edge pairs on one line: the truth lists thousands of them
    return re.sub(r"\[\s+(-?\d+),\s+(-?\d+)\s+\]", r"[\1, \2]", text) + "\n"


_OWNED = {
    "dataset_description.json",
    "participants.tsv",
    "participants.json",
    "phenotype",
    "truth",
    PARCELLATED_DIR,
}


def is_synth_output(path: Path | str) -> bool:
    """Whether ``path`` holds a synthetic cohort written by :func:`synthesize` and nothing else."""
    path = Path(path)
    desc = path / "dataset_description.json"
    try:
        gen = json.loads(desc.read_text(encoding="utf-8")).get("GeneratedBy", [])
    except (OSError, ValueError, AttributeError):
        return False
    if not any(isinstance(g, dict) and g.get("Name") == GENERATOR for g in gen):
        return False
    for entry in path.iterdir():
        name = entry.name
        partial = name.startswith(".") and name.endswith(".part")  # left by an interrupted run
        if name not in _OWNED and not name.startswith("sub-NDARINV") and not partial:
            return False
    return True


def _prepare_dest(dest: Path) -> None:
    if dest.exists() and not dest.is_dir():
        raise ValueError(f"{dest} exists and is not a folder")
    if dest.is_dir() and any(dest.iterdir()):
        if not is_synth_output(dest):
            raise ValueError(
                f"{dest} is not empty and is not a synthetic cohort written by dtb: refusing to "
                "write into it (choose a new or empty folder)"
            )
        # our own earlier output: clear it so that no participant of the old cohort lingers
        for entry in sorted(dest.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    dest.mkdir(parents=True, exist_ok=True)


def _check_n(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n_participants must be a positive integer, got {n!r}")
    return int(n)


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def planted_edges(config: SynthConfig = SynthConfig()) -> list[dict[str, Any]]:
    """The planted block pairs and their edges.

    Returns
    -------
    blocks : list of dict
        One per planted block pair: ``trait``, ``group_a``, ``group_b``, ``sign`` (+1: the
        edges' correlation rises with the trait), ``effect_per_sd`` (change of the model
        correlation per SD of the trait) and ``edges``, a list of ``(i, j)`` parcel pairs with
        ``i < j`` (0-based rows of the (434, T) time series).
    """
    out = []
    for trait, a, b, sign in config.planted_blocks:
        pairs = sorted({(min(i, j), max(i, j)) for i in PARCEL_GROUPS[a] for j in PARCEL_GROUPS[b]})
        out.append(
            {
                "trait": trait,
                "group_a": a,
                "group_b": b,
                "sign": int(sign),
                "effect_per_sd": sign * config.block_loading**2 * config.block_coupling_per_sd,
                "edges": [list(p) for p in pairs],
            }
        )
    return out


def trait_edges(trait: str, config: SynthConfig = SynthConfig()) -> tuple[np.ndarray, np.ndarray]:
    """The planted edge set of one trait (the union of its block pairs).

    Returns
    -------
    edges : ndarray of int, shape (n_edges, 2)
        ``(i, j)`` parcel pairs with ``i < j``, sorted.
    signs : ndarray of int, shape (n_edges,)
        +1 where the edge's correlation rises with the trait, -1 where it falls.
    """
    if trait not in TRAITS:
        raise ValueError(f"unknown trait {trait!r}; known: {', '.join(TRAITS)}")
    pairs: dict[tuple[int, int], int] = {}
    for block in planted_edges(config):
        if block["trait"] == trait:
            pairs.update({(i, j): block["sign"] for i, j in block["edges"]})
    keys = sorted(pairs)
    return np.array(keys, dtype=int).reshape(-1, 2), np.array([pairs[k] for k in keys], dtype=int)


def expected_fc(seed: int, index: int, config: SynthConfig = SynthConfig()) -> np.ndarray:
    """The true FC (model correlation matrix) of participant ``index`` of a seed's cohort.

    Parameters
    ----------
    seed : int
    index : int
        0-based position of the participant in ``participants.tsv``.
    config : SynthConfig

    Returns
    -------
    fc : ndarray of float64, shape (434, 434)
        Symmetric, unit diagonal; the rest run's sample correlation estimates it.
    """
    index = int(index)
    if index < 0:
        raise ValueError(f"index must be non-negative, got {index}")
    cohort_ss, people_ss = _seed_streams(_check_seed(seed))
    cohort = _build_cohort(np.random.default_rng(cohort_ss), config)
    streams = _participant_streams(people_ss, index + 1)
    person = _people(streams, config)[0][index]
    conn = _draw_connectome(
        np.random.default_rng(streams[index]["connectome"]), person, cohort, config
    )
    return conn.correlation()


#: Phenotype measures: name -> (trait weights field(s), mean, SD, decimals, description). A
#: measure is ``mean + SD * (sum_t w_t * trait_t + sqrt(1 - sum_t w_t**2) * noise)``, so ``w_t``
#: is its correlation with trait ``t``.
def _phenotype_definitions(
    cfg: SynthConfig,
) -> dict[str, tuple[dict[str, float], float, float, int, str]]:
    return {
        "digit_symbol": (
            {"speed": cfg.digit_symbol_r},
            55.0,
            10.0,
            0,
            "digit-symbol matching-like processing-speed score (higher = faster)",
        ),
        "anxiety": (
            {"affect": cfg.anxiety_r},
            40.0,
            10.0,
            0,
            "anxiety-like questionnaire score (higher = more anxious)",
        ),
        "impairment": (
            {"speed": cfg.impairment_speed_r, "affect": cfg.impairment_affect_r},
            10.0,
            4.0,
            1,
            "functional-impairment-like score (higher = more impaired)",
        ),
        "vocabulary": ({}, 30.0, 5.0, 0, "null measure: unrelated to every trait"),
        "sleep_hours": ({}, 7.0, 1.0, 1, "null measure: unrelated to every trait"),
    }


def _measures(rng: np.random.Generator, person: dict[str, Any], cfg: SynthConfig) -> dict:
    """One participant's phenotype values (None = missing)."""
    out: dict[str, Any] = {}
    for name, (weights, mean, sd, decimals, _) in _phenotype_definitions(cfg).items():
        signal = sum(w * person[t] for t, w in weights.items())
        rest = np.sqrt(max(1.0 - sum(w**2 for w in weights.values()), 0.0))
        value = round(float(mean + sd * (signal + rest * rng.standard_normal())), decimals)
        if decimals == 0:
            value = int(value)
        out[name] = None if rng.random() < cfg.phenotype_missing else value
    return out


def synthesize(
    dest: Path | str, n_participants: int, seed: int, config: SynthConfig = SynthConfig()
) -> Path:
    """Write a ground-truth synthetic cohort in the TCP layout.

    Parameters
    ----------
    dest : path-like
        Destination folder: new, empty, or an earlier output of this function (replaced).
    n_participants : int
        Number of participants (each with rest, Faces and Stroop runs).
    seed : int
        Seed of everything; the same seed gives byte-identical files, and participant ``k`` is the
        same whatever ``n_participants``.
    config : SynthConfig
        Generative parameters (saved in ``truth/truth.json``).

    Returns
    -------
    dest : Path
        The dataset root, readable by :mod:`dtb.data` like a real download.

    Raises
    ------
    ValueError
        If ``dest`` is a file, or a non-empty folder that is not an earlier synthetic cohort;
        if ``n_participants`` or ``seed`` is not a valid integer.
    """
    n = _check_n(n_participants)
    seed = _check_seed(seed)
    dest = Path(dest)
    _prepare_dest(dest)
    cohort_ss, people_ss = _seed_streams(seed)
    cohort_rng = np.random.default_rng(cohort_ss)
    cohort = _build_cohort(cohort_rng, config)
    streams = _participant_streams(people_ss, n)
    people, measures = _people(streams, config)

    # the marker first: an interrupted run is still recognised as ours and can be redone
    _write_description(dest, seed, n)
    rows = [
        _write_participant(dest, person, st, cohort, config)
        for person, st in zip(people, streams, strict=True)
    ]
    _write_participants_table(dest, people)
    pheno_truth = _write_phenotype(dest, measures, config)
    truth = _truth_record(seed, n, rows, cohort, pheno_truth, config)
    _write_text(dest / "truth" / "truth.json", _json_text(truth))
    return dest


def _write_description(dest: Path, seed: int, n: int) -> None:
    _write_text(
        dest / "dataset_description.json",
        _json_text(
            {
                "Name": (
                    "dtb synthetic cohort: a ground-truth digital twin in the TCP (ds005237) layout"
                ),
                "BIDSVersion": "1.2.1",
                "DatasetType": "raw",
                "License": "CC0",
                "GeneratedBy": [
                    {
                        "Name": GENERATOR,
                        "Version": __version__,
                        "Description": (
                            "Synthetic participants with known traits planted into FC, "
                            "behaviour and task BOLD; the truth is in truth/truth.json."
                        ),
                    }
                ],
                "SynthSeed": seed,
                "SynthParticipants": n,
            }
        ),
    )


def _write_participants_table(dest: Path, people: list[dict[str, Any]]) -> None:
    part = pd.DataFrame(
        [
            {
                "participant_id": p["participant_id"],
                "species": "homo sapiens",
                "age": p["age"],
                "sex": p["sex"],
                "Site": p["Site"],
                "Group": p["Group"],
            }
            for p in people
        ]
    )
    _write_text(
        dest / "participants.tsv",
        _tsv(part, ("participant_id", "species", "age", "sex", "Site", "Group")),
    )


def _write_phenotype(dest: Path, measures: list[dict], config: SynthConfig) -> dict:
    """Write the phenotype table and its sidecar; return each measure's planted truth."""
    defs = _phenotype_definitions(config)
    pheno = pd.DataFrame(measures)
    _write_text(dest / "phenotype" / "synth_measures.tsv", _tsv(pheno, tuple(pheno.columns)))
    _write_text(
        dest / "phenotype" / "synth_measures.json",
        _json_text({name: {"Description": d[4], "Units": "arbitrary"} for name, d in defs.items()}),
    )
    return {
        name: {"trait_correlations": d[0], "mean": d[1], "sd": d[2], "description": d[4]}
        for name, d in defs.items()
    }


def _truth_record(
    seed: int, n: int, rows: list[dict], cohort: _Cohort, pheno_truth: dict, config: SynthConfig
) -> dict:
    """The content of ``truth/truth.json``."""
    return {
        "generator": GENERATOR,
        "version": __version__,
        "seed": seed,
        "n_participants": n,
        "traits": list(TRAITS),
        "trait_description": {
            "speed": "processing speed; standard normal; higher = faster responses",
            "affect": "amygdala reactivity / negative affect; standard normal; higher = larger "
            "right-amygdala face > shape response",
        },
        "participants": rows,
        "planted_edges": planted_edges(config),
        "networks": {
            "names": list(cohort.extra["network_names"]),
            "parcel_network": cohort.network,
            "factor_correlation": np.round(cohort.extra["network_correlation"], 6),
            "loading": np.round(cohort.network_loading, 6),
        },
        "task_timing": {"faces": FACES_TIMING, "stroop": STROOP_TIMING},
        "parcel_groups": {k: list(v) for k, v in PARCEL_GROUPS.items()},
        "phenotype": pheno_truth,
        "config": config.to_dict(),
    }


def _write_participant(
    dest: Path, person: dict[str, Any], s: dict[str, Any], cohort: _Cohort, cfg: SynthConfig
) -> dict[str, Any]:
    pid = person["participant_id"]
    conn = _draw_connectome(np.random.default_rng(s["connectome"]), person, cohort, cfg)
    _write_h5(
        timeseries_path(dest, pid, REST),
        conn.signals(REST.n_volumes, np.random.default_rng(s["rest"]), cfg.ar1),
    )

    truth = dict(person)
    truth["block_coupling"] = [round(float(c), 6) for c in conn.coupling]
    for run, make, columns, ev_key, bold_key in (
        (FACES, _faces_events, _FACES_COLUMNS, "faces_events", "faces_bold"),
        (STROOP, _stroop_events, _STROOP_COLUMNS, "stroop_events", "stroop_bold"),
    ):
        events, pressed = make(np.random.default_rng(s[ev_key]), person, cohort, cfg)
        _write_text(events_path(dest, pid, run), _tsv(events, columns))
        rng = np.random.default_rng(s[bold_key])
        amp = _response_amplitudes(rng, person, cohort, cfg)
        regs = _task_regressors(events, pressed, run, cfg)
        bold = amp @ regs + conn.signals(run.n_volumes, rng, cfg.ar1)
        _write_h5(timeseries_path(dest, pid, run), bold)
        rt = events["response_time"].to_numpy(float)
        truth[f"{run.name}_mean_rt"] = float(np.nanmean(rt)) if np.isfinite(rt).any() else None
        truth[f"{run.name}_accuracy"] = float(events["accuracy_binarized"].mean())
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in truth.items()}


def read_truth(root: Path | str) -> dict[str, Any]:
    """Read a synthetic cohort's ``truth/truth.json``.

    Returns
    -------
    truth : dict
        As written by :func:`synthesize`; ``truth["participants"]`` is also given as a
        :class:`pandas.DataFrame` under ``"table"`` (one row per participant, file order).

    Raises
    ------
    ValueError
        If ``root`` has no truth file (for example a real download).
    """
    path = Path(root) / "truth" / "truth.json"
    if not path.is_file():
        raise ValueError(f"{path}: no truth file ({root} is not a dtb synthetic cohort)")
    truth = json.loads(path.read_text(encoding="utf-8"))
    truth["table"] = pd.DataFrame(truth["participants"])
    return truth
