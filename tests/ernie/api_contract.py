"""Contract rows for snippets.ernie's structure-aware tasks and the continual
multi-task schedule (see tests/contract.py for the rules). Knowledge masking has
its own file, api_contract_masking.py."""

from __future__ import annotations

import math

import numpy as np
import torch
from contract import (
    OK,
    RAISE,
    Row,
    Variant,
    count,
    flag,
    floats,
    generator,
)

from snippets.ernie.continual_multitask import (
    ContinualMultiTaskSchedule,
    TaskEmbedding,
    joint_schedule,
    sequential_schedule,
)
from snippets.ernie.sentence_distance import (
    ADJACENT,
    DIFFERENT_DOCUMENT,
    SAME_DOCUMENT,
    DistanceExample,
    sentence_distance_examples,
)
from snippets.ernie.sentence_reordering import (
    MAX_SEGMENTS,
    label_to_permutation,
    num_classes,
    permutation_to_label,
    reorder_example,
)


def _set(arg, value):
    return lambda kw: {**kw, arg: value}


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---- ContinualMultiTaskSchedule ------------------------------------------------


def _tasks(arg: str, kw: dict) -> list[Variant]:
    return [
        Variant("tuple", _set(arg, ("a", "b", "c")), OK),
        Variant("one-task", _set(arg, ["only"]), OK),
        Variant("str", _set(arg, "abc"), RAISE),
        Variant("empty", _set(arg, []), RAISE),
        Variant("duplicate", _set(arg, ["a", "a", "b"]), RAISE),
        Variant("not-names", _set(arg, [1, 2, 3]), RAISE),
        Variant("type-none", _set(arg, None), RAISE),
        Variant("numpy", _set(arg, np.array(["a", "b", "c"])), RAISE),
    ]


def _schedule_check(schedule, kw) -> None:
    T = len(kw["tasks"])
    iterations = kw["iterations_per_task"]
    iterations = [iterations] * T if isinstance(iterations, int) else iterations
    steps = schedule.steps()
    assert steps.dtype == torch.int64 and len(schedule) == sum(iterations)
    assert torch.bincount(steps, minlength=T).tolist() == list(iterations)
    # stage s trains tasks 0..s only; task t starts in stage t
    end = 0
    for s, shares in enumerate(schedule.stage_iterations):
        stage = steps[end : end + sum(shares)]
        assert stage.numel() == 0 or int(stage.max()) <= s
        end += sum(shares)
    assert list(schedule) == steps.tolist()


SCHEDULE = Row(
    ContinualMultiTaskSchedule,
    lambda: {
        "tasks": ["a", "b", "c"],
        "iterations_per_task": 4,
        "shuffle": True,
        "generator": _gen(),
    },
    kinds={
        "tasks": _tasks,
        "iterations_per_task": count(1),
        "shuffle": flag,
        "generator": generator,
    },
    check=_schedule_check,
    extra=[
        Variant("per-task-list", _set("iterations_per_task", [6, 4, 2]), OK),
        Variant("per-task-tuple", _set("iterations_per_task", (1, 1, 9)), OK),
        Variant(
            "per-task-floats",
            _set("iterations_per_task", [2.0, 3, 1]),
            RAISE,
            "iterations_per_task",
        ),
        Variant(
            "per-task-short",
            _set("iterations_per_task", [2, 3]),
            RAISE,
            "iterations_per_task",
        ),
        Variant(
            "per-task-zero",
            _set("iterations_per_task", [0, 3, 1]),
            RAISE,
            "iterations_per_task",
        ),
        Variant(
            "per-task-str",
            _set("iterations_per_task", "432"),
            RAISE,
            "iterations_per_task",
        ),
    ],
)


# ---- TaskEmbedding -------------------------------------------------------------

B, L, H, T = 3, 5, 8, 4


def _task_embedding(num_tasks, hidden_size, embeddings, task_ids):
    torch.manual_seed(0)  # the table's values, so that the check can rebuild it
    return TaskEmbedding(num_tasks, hidden_size)(embeddings, task_ids)


def _task_embedding_check(result, kw) -> None:
    x = kw["embeddings"]
    assert result.shape == x.shape and result.dtype == x.dtype
    torch.manual_seed(0)
    table = TaskEmbedding(kw["num_tasks"], kw["hidden_size"]).embedding.weight
    ids = torch.as_tensor(kw["task_ids"]).long().expand(x.shape[0])
    expected = x.double() + table.detach().double()[ids][:, None, :]
    tol = 1e-2 if x.dtype in (torch.float16, torch.bfloat16) else 1e-6
    assert torch.allclose(result.double(), expected, atol=tol, rtol=tol)


def _task_ids(arg: str, kw: dict) -> list[Variant]:
    batch = kw["embeddings"].shape[0]
    out = [
        Variant(
            f"tensor-{str(d).removeprefix('torch.')}",
            _set(arg, torch.arange(batch).to(d) % T),
            OK,
        )
        for d in (torch.uint8, torch.int16, torch.int32, torch.int64)
    ]
    return out + [
        Variant("scalar-tensor", _set(arg, torch.tensor(2)), OK),
        Variant("last", _set(arg, T - 1), OK),
        Variant("value-num_tasks", _set(arg, T), RAISE),
        Variant("value-negative", _set(arg, -1), RAISE),
        Variant("tensor-out-of-range", _set(arg, torch.full((batch,), T)), RAISE),
        Variant(
            "tensor-wrong-batch", _set(arg, torch.zeros(batch + 1).long()), RAISE
        ),
        Variant("tensor-float", _set(arg, torch.zeros(batch)), RAISE),
        Variant("type-bool", _set(arg, True), RAISE),
        Variant("type-float", _set(arg, 1.0), RAISE),
        Variant("type-str", _set(arg, "1"), RAISE),
        Variant("type-none", _set(arg, None), RAISE),
    ]


def _embeddings() -> dict:
    return {
        "num_tasks": T,
        "hidden_size": H,
        "embeddings": torch.randn(B, L, H, generator=_gen(1)),
        "task_ids": 0,
    }


TASK_EMBEDDING = Row(
    TaskEmbedding,
    _embeddings,
    call=_task_embedding,
    kinds={
        "num_tasks": count(1),
        "hidden_size": count(1),
        "embeddings": floats,
        "task_ids": _task_ids,
    },
    aligned=("embeddings",),
    check=_task_embedding_check,
    expect={
        # one value for hidden_size that differs from the embeddings' H (8)
        "hidden_size-value-minimum": (RAISE, "the embeddings' H is 8, not 1"),
    },
)


# ---- sequential_schedule and joint_schedule ------------------------------------


def _counts_check(result, kw) -> None:
    n, k = kw["num_tasks"], kw["iterations_per_task"]
    assert result.dtype == torch.int64 and len(result) == n * k
    assert torch.bincount(result, minlength=n).tolist() == [k] * n


def _in_order(result, kw) -> None:
    _counts_check(result, kw)
    assert torch.equal(result, result.sort().values), "not in task order"


SEQUENTIAL = Row(
    sequential_schedule,
    lambda: {"num_tasks": 3, "iterations_per_task": 5},
    kinds={"num_tasks": count(1), "iterations_per_task": count(1)},
    check=_in_order,
)


JOINT = Row(
    joint_schedule,
    lambda: {"num_tasks": 3, "iterations_per_task": 5, "generator": _gen()},
    kinds={
        "num_tasks": count(1),
        "iterations_per_task": count(1),
        "generator": generator,
    },
    check=_counts_check,
)


# ---- sentence_distance_examples ------------------------------------------------


def _corpus(n_docs: int = 3, n_sentences: int = 5) -> list[list[list[int]]]:
    """Sentence j of document d holds tokens 1000·d + 10·j + (0..2): several
    tokens each, so that where a sentence came from is readable."""
    return [
        [
            [1000 * d + 10 * j + t for t in range(1 + j % 3)]
            for j in range(n_sentences)
        ]
        for d in range(n_docs)
    ]


def _where(sentence: list[int]) -> tuple[int, int]:
    return divmod(sentence[0], 1000)[0], sentence[0] % 1000 // 10


def _distance_check(examples, kw) -> None:
    documents = kw["documents"]
    sizes = [len(d) for d in documents]
    assert len(examples) == sum(max(n - 1, 0) for n in sizes)
    with_sentences = sum(n > 0 for n in sizes)
    for e in examples:
        assert isinstance(e, DistanceExample)
        (da, ia), (db, ib) = _where(e.sentence_a), _where(e.sentence_b)
        assert e.sentence_a == list(documents[da][ia])
        assert e.sentence_b == list(documents[db][ib])
        if e.label == ADJACENT:
            assert (db, ib) == (da, ia + 1)
        elif e.label == SAME_DOCUMENT:
            assert db == da and abs(ib - ia) >= 2
        else:
            assert e.label == DIFFERENT_DOCUMENT and db != da
            assert with_sentences > 1


def _documents(arg: str, kw: dict) -> list[Variant]:
    corpus = kw[arg]
    return [
        Variant("empty-corpus", _set(arg, []), OK),
        Variant("one-document", _set(arg, corpus[:1]), OK),
        Variant("another-document-empty", _set(arg, [corpus[0], []]), OK),
        Variant("empty-documents", _set(arg, [[], []]), OK),
        Variant("one-sentence-documents", _set(arg, [d[:1] for d in corpus]), OK),
        Variant("two-sentence-documents", _set(arg, [d[:2] for d in corpus]), OK),
        Variant(
            "tuples", _set(arg, tuple(tuple(map(tuple, d)) for d in corpus)), OK
        ),
        Variant("str", _set(arg, "some text"), RAISE),
        Variant("flat", _set(arg, corpus[0]), RAISE),
        Variant("empty-sentence", _set(arg, [corpus[0] + [[]], corpus[1]]), RAISE),
        Variant("bool-token", _set(arg, [[[True, 1], [2]]]), RAISE),
        Variant("float-token", _set(arg, [[[1.0, 2], [3]]]), RAISE),
        Variant("type-none", _set(arg, None), RAISE),
    ]


DISTANCE = Row(
    sentence_distance_examples,
    lambda: {"documents": _corpus(), "generator": _gen()},
    kinds={"documents": _documents, "generator": generator},
    check=_distance_check,
)


# ---- sentence reordering -------------------------------------------------------


def _max_segments_kind(arg: str, kw: dict) -> list[Variant]:
    return count(1)(arg, kw) + [
        Variant("value-max", _set(arg, MAX_SEGMENTS), OK),
        Variant("value-above-max", _set(arg, MAX_SEGMENTS + 1), RAISE),
        Variant("value-huge", _set(arg, 10**6), RAISE),
    ]


def _num_classes_check(k, kw) -> None:
    assert k == sum(math.factorial(n) for n in range(1, kw["max_segments"] + 1))


NUM_CLASSES = Row(
    num_classes,
    lambda: {"max_segments": 3},
    kinds={"max_segments": _max_segments_kind},
    check=_num_classes_check,
)


def _permutation(arg: str, kw: dict) -> list[Variant]:
    return [
        Variant("identity-1", _set(arg, [0]), OK),
        Variant("tuple", _set(arg, (2, 0, 1)), OK),
        Variant("longest", _set(arg, list(range(MAX_SEGMENTS))[::-1]), OK),
        Variant("empty", _set(arg, []), RAISE),
        Variant("repeated", _set(arg, [0, 0, 1]), RAISE),
        Variant("gap", _set(arg, [0, 2]), RAISE),
        Variant("negative", _set(arg, [-1, 0]), RAISE),
        Variant("bools", _set(arg, [True, False]), RAISE),
        Variant("floats", _set(arg, [1.0, 0.0]), RAISE),
        Variant("str", _set(arg, "10"), RAISE),
        Variant("too-long", _set(arg, list(range(MAX_SEGMENTS + 1))), RAISE),
        Variant("type-none", _set(arg, None), RAISE),
    ]


def _label_check(label, kw) -> None:
    permutation = list(kw["permutation"])
    n = len(permutation)
    assert isinstance(label, int)
    # the classes of n segments follow those of 1..n-1 segments
    first = sum(math.factorial(j) for j in range(1, n))
    assert first <= label < first + math.factorial(n)
    assert label_to_permutation(label, n) == permutation


TO_LABEL = Row(
    permutation_to_label,
    lambda: {"permutation": [1, 2, 0]},
    kinds={"permutation": _permutation},
    check=_label_check,
)


def _label_kind(arg: str, kw: dict) -> list[Variant]:
    return count(0)(arg, kw) + [
        Variant("value-last", _set(arg, 8), OK),
        Variant("value-num_classes", _set(arg, 9), RAISE),
    ]


def _permutation_check(permutation, kw) -> None:
    assert sorted(permutation) == list(range(len(permutation)))
    assert 1 <= len(permutation) <= kw["max_segments"]
    assert permutation_to_label(permutation) == kw["label"]


TO_PERMUTATION = Row(
    label_to_permutation,
    lambda: {"label": 0, "max_segments": 3},
    kinds={"label": _label_kind, "max_segments": _max_segments_kind},
    check=_permutation_check,
)


def _segments(arg: str, kw: dict) -> list[Variant]:
    return [
        Variant("one-sentence", _set(arg, [[1, 2, 3]]), OK),
        Variant("two-sentences", _set(arg, [[1], [2, 3]]), OK),
        Variant("tuples", _set(arg, tuple(tuple(s) for s in kw[arg])), OK),
        Variant("empty", _set(arg, []), RAISE),
        Variant("empty-sentence", _set(arg, [[1], []]), RAISE),
        Variant("flat", _set(arg, [1, 2, 3]), RAISE),
        Variant("bool-token", _set(arg, [[True], [2]]), RAISE),
        Variant("str", _set(arg, "a paragraph"), RAISE),
        Variant("type-none", _set(arg, None), RAISE),
    ]


def _reorder_check(result, kw) -> None:
    pieces, label = result
    segments = [list(s) for s in kw["segments"]]
    permutation = label_to_permutation(label, kw["max_segments"])
    assert len(pieces) == len(permutation) <= min(kw["max_segments"], len(segments))
    restored = [None] * len(pieces)
    for i, j in enumerate(permutation):  # shuffled[i] = pieces[permutation[i]]
        restored[j] = pieces[i]
    assert all(restored)  # every piece holds at least one sentence
    assert [t for p in restored for t in p] == [t for s in segments for t in s]


REORDER = Row(
    reorder_example,
    lambda: {
        "segments": [[1, 2], [3], [4, 5, 6], [7], [8, 9]],
        "max_segments": 3,
        "generator": _gen(),
    },
    kinds={
        "segments": _segments,
        "max_segments": _max_segments_kind,
        "generator": generator,
    },
    check=_reorder_check,
)


ROWS = [
    SCHEDULE,
    TASK_EMBEDDING,
    SEQUENTIAL,
    JOINT,
    DISTANCE,
    NUM_CLASSES,
    TO_LABEL,
    TO_PERMUTATION,
    REORDER,
]
EXEMPT = {
    DistanceExample: "a frozen dataclass, the result of sentence_distance_examples",
}
