"""The matching engine: which cohort members appear in a batch of encoded rows.

Three methods, in order of authority:

* ``bsn`` — the keyed BSN of a row equals a member's. A valid BSN is authoritative: a row
  whose valid BSN is not in the cohort is somebody else and is not matched on names.
* ``bsn_corrected`` — the row's BSN fails the 11-proof (a typo). Its 11-proof-valid single
  substitutions and adjacent swaps are looked up; members whose birth date or name in the
  row contradicts them are dropped; exactly one must remain, and when several neighbours were
  members, the one left must be positively corroborated by the row's name or birth date.
* ``name_dob`` — rows without a usable BSN: candidates share a keyed birth date (exact or
  day/month-swapped) or a keyed (surname sound, two-of-three date parts) block; the score is
  the weighted Dice similarity of given-name and surname filters times a birth-date factor,
  plus a small bonus when the keyed postcodes agree. A two-of-three date needs a strong name
  and an agreeing postcode.

Everything is vectorised over pairs of (row, member) in bounded chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matchers import bsn as bsnrules
from matchers.bloom import popcount
from matchers.encode import PARTIAL_DATE_BLOCKS, EncodedRecords
from matchers.index import CohortIndex, NameSide
from matchers.keyed import Domain, KeyedPRF

__all__ = ["METHODS", "MatchCollector", "MatchSettings", "Matcher", "MemberMatch"]

METHODS = ("bsn", "bsn_corrected", "name_dob")
_RANK = {"bsn": 3, "bsn_corrected": 2, "name_dob": 1}
DOB_NONE, DOB_PARTIAL, DOB_SWAPPED, DOB_EXACT = 0, 1, 2, 3


@dataclass(frozen=True)
class MatchSettings:
    """Thresholds; the defaults come from bench/accuracy.py (see docs/architecture.md)."""

    name_dob_threshold: float = 0.75
    given_weight: float = 0.40
    given_floor: float = 0.55
    initial_weight: float = 0.75
    swapped_dob_factor: float = 0.95
    partial_dob_factor: float = 0.90
    partial_dob_min_name: float = 0.85
    dob_postcode_min_name: float = 0.0
    postcode_min_name: float = 0.80
    accept_conflicting_dob: bool = True
    postcode_bonus: float = 0.30
    correction_min_name: float = 0.50
    max_block: int = 5000
    pair_chunk: int = 400_000


@dataclass(frozen=True)
class MemberMatch:
    member: int
    method: str
    score: float
    file: str
    record: int


class MatchCollector:
    """Best match per member across every batch and file of a dataset.

    Kept in numpy arrays over the cohort (17 bytes a member) and updated per batch
    without a Python step per row: a BSN dump can hold millions of member rows. Order of
    preference: highest score, then the most authoritative method, then the earliest
    location (files in the order they were scanned, then record number).
    """

    def __init__(self, cohort_size: int) -> None:
        self.records_matched: dict[str, int] = dict.fromkeys(METHODS, 0)
        self._score = np.full(cohort_size, -1.0, dtype=np.float32)
        self._rank = np.zeros(cohort_size, dtype=np.int8)
        self._file = np.zeros(cohort_size, dtype=np.int32)
        self._record = np.zeros(cohort_size, dtype=np.int64)
        self._files: dict[str, int] = {}

    def offer(
        self, members: np.ndarray, method: str, scores: np.ndarray, file: str, records: np.ndarray
    ) -> None:
        """Consider these (member, score, record) matches of one file."""
        n = int(members.size)
        self.records_matched[method] += n
        if not n:
            return
        fid = self._files.setdefault(file, len(self._files))
        rank = _RANK[method]
        score = np.round(np.asarray(scores, dtype=np.float64), 4).astype(np.float32)
        # Within the offer: per member the best score, then the earliest record.
        order = np.lexsort((records, -score, members))
        m, sc, rec = members[order], score[order], records[order]
        first = np.ones(m.size, dtype=bool)
        first[1:] = m[1:] != m[:-1]
        m, sc, rec = m[first], sc[first], rec[first]
        cur_s, cur_r = self._score[m], self._rank[m]
        cur_f, cur_rec = self._file[m], self._record[m]
        earlier = (fid < cur_f) | ((fid == cur_f) & (rec < cur_rec))
        better = (sc > cur_s) | ((sc == cur_s) & ((rank > cur_r) | ((rank == cur_r) & earlier)))
        take = m[better]
        self._score[take] = sc[better]
        self._rank[take] = rank
        self._file[take] = fid
        self._record[take] = rec[better]

    def best(self) -> list[MemberMatch]:
        """Every matched member's best match, ordered by file name, record and member;
        scores rounded to 4 places. Ordered and gathered with numpy: a BSN dump matches
        hundreds of thousands of members."""
        members = np.flatnonzero(self._score >= 0)
        names = sorted(self._files)
        rank_of_file = np.zeros(max(len(names), 1), dtype=np.int64)
        for rank, name in enumerate(names):
            rank_of_file[self._files[name]] = rank
        files = self._file[members]
        records = self._record[members]
        order = np.lexsort((members, records, rank_of_file.take(files)))
        members, files, records = members[order], files[order], records[order]
        file_names = {i: f for f, i in self._files.items()}
        methods = {r: m for m, r in _RANK.items()}
        return [
            MemberMatch(m, methods[r], round(sc, 4), file_names[f], rec)
            for m, r, sc, f, rec in zip(
                members.tolist(), self._rank[members].tolist(), self._score[members].tolist(),
                files.tolist(), records.tolist(), strict=True,
            )
        ]


@dataclass
class PairScores:
    name: np.ndarray  # name similarity in [0, 1]
    has_name: np.ndarray  # both sides carry a surname
    both_given: np.ndarray  # both sides carry a given name (not only an initial)
    dob: np.ndarray  # DOB_* agreement kind
    has_dob: np.ndarray  # both sides carry a birth date
    postcode: np.ndarray  # both carry a postcode and they agree


def _take(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` of ``a``. ``take`` on a C-contiguous array copies whole rows; fancy
    indexing a 2-D array runs 10-40x slower per row (numpy 2.x)."""
    return a.take(idx, axis=0)


@dataclass
class _MemberSide:
    """The member side of candidate pairs, from one gather of NameSide.first_look."""

    dob: np.ndarray
    postcode: np.ndarray
    sn0: np.ndarray  # (P, W) surname part 1
    packed: np.ndarray  # popcounts of given name, surname parts 1 and 2, given as surname
    ps0: np.ndarray  # int32: surname part 1's popcount (every pair needs it) ...
    ps1: np.ndarray  # ... and part 2's

    @classmethod
    def of(cls, side: NameSide, members: np.ndarray) -> _MemberSide:
        rows = side.first_look().take(members, axis=0)
        w = side.gn.shape[1]
        packed = rows[:, 2 + w]  # views into the gathered rows: read once or twice each
        return cls(rows[:, 0], rows[:, 1], np.ascontiguousarray(rows[:, 2 : 2 + w]), packed,
                   _unpack(packed, 1), _unpack(packed, 2))  # fmt: skip

    @property
    def pg(self) -> np.ndarray:
        return _unpack(self.packed, 0)

    @property
    def px(self) -> np.ndarray:
        return _unpack(self.packed, 3)

    def subset(self, idx: np.ndarray) -> _MemberSide:
        return _MemberSide(*(_take(getattr(self, f), idx) for f in _MEMBER_FIELDS))


_MEMBER_FIELDS = ("dob", "postcode", "sn0", "packed", "ps0", "ps1")


def _unpack(packed: np.ndarray, i: int) -> np.ndarray:
    """The i-th 16-bit popcount of first_look's packed word, as int32."""
    return ((packed >> np.uint64(16 * i)) & np.uint64(0xFFFF)).astype(np.int32)


def _dice(a: np.ndarray, b: np.ndarray, pa_: np.ndarray, pb: np.ndarray) -> np.ndarray:
    both = (pa_ > 0) & (pb > 0)
    return np.where(both, 2.0 * popcount(a & b) / np.maximum(pa_ + pb, 1), 0.0)


def _surname_similarity(
    enc: EncodedRecords, rows: np.ndarray, side: NameSide, members: np.ndarray,
    m: _MemberSide, ls1: np.ndarray,
) -> np.ndarray:
    """Dice of the surnames of (row, member) pairs: of part 1 with part 1, or where a
    side has a double surname the best of its parts crosswise and of both parts at once
    (``ls1``: the rows' part-1 filters)."""
    _, ps0_l, ps1_l, _ = enc.popcounts()
    sn1_l = enc.surname_parts()[1]
    pl0, pm0 = ps0_l.take(rows), m.ps0
    pl1, pm1 = ps1_l.take(rows), m.ps1
    inter = popcount(ls1 & m.sn0)
    s = _part_dice(inter, pl0, pm0)
    double = np.flatnonzero((pl1 > 0) | (pm1 > 0))
    if double.size:
        rd, md = rows[double], members[double]
        l0, l1 = _take(ls1, double), _take(sn1_l, rd)
        m0, m1 = _take(m.sn0, double), _take(side.sn1, md)
        i00, i01, i10, i11 = inter[double], popcount(l0 & m1), popcount(l1 & m0), popcount(l1 & m1)
        a0, a1, b0, b1 = pl0[double], pl1[double], pm0[double], pm1[double]
        best = np.maximum(
            np.maximum(_part_dice(i00, a0, b0), _part_dice(i01, a0, b1)),
            np.maximum(_part_dice(i10, a1, b0), _part_dice(i11, a1, b1)),
        )
        full = 2.0 * (i00 + i01 + i10 + i11) / np.maximum(a0 + a1 + b0 + b1, 1)
        s[double] = np.minimum(np.maximum(best, full), 1.0)
    return s


def _part_dice(inter: np.ndarray, pa_: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """Dice from the shared bits and both popcounts; 0 where a side is empty."""
    return np.where((pa_ > 0) & (pb > 0), 2.0 * inter / np.maximum(pa_ + pb, 1), 0.0)


def score_pairs(
    enc: EncodedRecords,
    rows: np.ndarray,
    side: NameSide,
    members: np.ndarray,
    given_weight: float,
    given_floor: float = 0.55,
    initial_weight: float = 0.75,
    dates: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    member_side: _MemberSide | None = None,
    surnames: np.ndarray | None = None,
) -> PairScores:
    """Name and birth-date agreement for (row, member) pairs (``member_side``: the
    members' first-look values, ``surnames``: :func:`_surname_similarity`, when already
    known).

    Work is spent where it can matter: the 2x2 surname-part comparison only for pairs where
    a side has a double surname, the crossed-fields comparison only for pairs whose name
    score is not already high.
    """
    m = member_side if member_side is not None else _MemberSide.of(side, members)
    pg_l, ps0_l, _, px_l = enc.popcounts()
    sn0_l = enc.surname_parts()[0]
    plg, pmg = pg_l.take(rows), m.pg
    both_g = (plg > 0) & (pmg > 0)
    g = np.where(
        both_g,
        2.0 * popcount(_take(enc.gn, rows) & _take(side.gn, members)) / np.maximum(plg + pmg, 1),
        0.0,
    )
    li, mi = enc.initial.take(rows), side.initial.take(members)
    # An initial is weak evidence (one letter of ~15 common ones): it counts for
    # `initial_weight` of a full given-name agreement.
    g = np.where(~both_g & (li != 0) & (mi != 0), (li == mi) * initial_weight, g)

    pl0, pm0 = ps0_l.take(rows), m.ps0
    ls1, ms1 = _take(sn0_l, rows), m.sn0
    s = surnames if surnames is not None else _surname_similarity(
        enc, rows, side, members, m, ls1
    )
    has_name = (pl0 > 0) & (pm0 > 0)
    # A side without any given name (not even an initial) is compared on the surname alone,
    # as a human would: nothing speaks for or against the given name.
    no_given = ~both_g & ((li == 0) | (mi == 0))
    name = np.where(no_given, s, given_weight * g + (1.0 - given_weight) * s)
    # Two known, clearly different given names (twins, siblings, namesakes) rule a match
    # out, however well surname and birth date agree. Letters shared by unrelated names
    # ('robin', 'finn') lift the letter-augmented filters, so "different" is judged on the
    # mean of that and the bigrams-only Dice of the surname-style encodings.
    lx, mx = _take(enc.gx, rows), _take(side.gx, members)
    plx, pmx = px_l.take(rows), m.px
    gb = _dice(lx, mx, plx, pmx)
    name = np.where(both_g & ((g + gb) / 2 < given_floor), 0.0, name)
    # Given name and surname written in each other's field: compared through the
    # surname-style encodings of the given names, as keyed positions differ per field.
    cross = np.flatnonzero(both_g & has_name & (name < 0.9))
    if cross.size:
        gs = _dice(_take(lx, cross), _take(ms1, cross), plx[cross], pm0[cross])
        sg = _dice(_take(ls1, cross), _take(mx, cross), pl0[cross], pmx[cross])
        crossed = np.where(sg >= given_floor, given_weight * sg + (1.0 - given_weight) * gs, 0.0)
        name[cross] = np.maximum(name[cross], crossed * 0.95)
    name = np.where(has_name, name, 0.0)

    kind, has_dob, postcode = dates or date_postcode(enc, rows, side, members, m)
    return PairScores(name, has_name, both_g, kind, has_dob, postcode)


def date_postcode(
    enc: EncodedRecords, rows: np.ndarray, side: NameSide, members: np.ndarray,
    member_side: _MemberSide | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Birth-date agreement kind, both-have-a-date, and keyed postcode agreement.

    Two of three date parts only count with an agreeing postcode (see :func:`decide`), so
    they are only compared there: DOB_PARTIAL is never reported without the postcode.
    """
    m = member_side if member_side is not None else _MemberSide.of(side, members)
    ld, md = enc.dob.take(rows), m.dob
    has_dob = (ld != 0) & (md != 0)
    kind = np.full(rows.shape, DOB_NONE, dtype=np.int8)
    lp, mp = enc.postcode.take(rows), m.postcode
    postcode = (lp != 0) & (lp == mp)
    near = np.flatnonzero(postcode & has_dob)
    if near.size:
        partial = (
            _take(enc.dob_pairs, rows[near]) == _take(side.dob_pairs, members[near])
        ).any(axis=1)
        kind[near[partial]] = DOB_PARTIAL
    kind[has_dob & (enc.dob_swap.take(rows) == md)] = DOB_SWAPPED
    kind[has_dob & (ld == md)] = DOB_EXACT
    return kind, has_dob, postcode


def decide(ps: PairScores, st: MatchSettings) -> tuple[np.ndarray, np.ndarray]:
    """Reported score and accept flag per pair: how much name agreement a pair needs
    depends on what its birth date and postcode already say.

    ==========================  ==========  ===========================================
    birth date                  postcode    accepted when
    ==========================  ==========  ===========================================
    exact or day/month swapped  agrees      name >= ``dob_postcode_min_name``
    exact or day/month swapped  otherwise   score >= ``name_dob_threshold``
    two of three parts          agrees      name >= ``partial_dob_min_name`` and score
                                            >= ``name_dob_threshold``
    missing, or differs         agrees      given name and surname both compared, name
                                            >= ``postcode_min_name`` (a differing date
                                            only with ``accept_conflicting_dob``)
    anything else                           never
    ==========================  ==========  ===========================================

    Birth date plus postcode nearly identify a person on their own; a birth date alone
    does not, and a name alone never does. Twins at one address (first row) and a parent
    and child of the same name at one address (fourth row) are the price of the recall
    this buys on real-world damage (see docs/architecture.md); ``dob_postcode_min_name``
    and ``accept_conflicting_dob`` take it back. The score is the name similarity times a
    birth-date factor plus a postcode bonus, capped at 1: a low score on an accepted pair
    tells the investigator the names disagree.
    """
    dated = ps.dob >= DOB_SWAPPED
    factor = np.select(
        [ps.dob == DOB_EXACT, ps.dob == DOB_SWAPPED],
        [1.0, st.swapped_dob_factor],
        st.partial_dob_factor,
    )
    score = np.minimum(ps.name * factor + st.postcode_bonus * ps.postcode, 1.0)
    pc = ps.postcode
    accept = np.where(
        dated,
        np.where(pc, ps.name >= st.dob_postcode_min_name, score >= st.name_dob_threshold),
        pc
        & np.where(
            ps.dob == DOB_PARTIAL,
            (ps.name >= st.partial_dob_min_name) & (score >= st.name_dob_threshold),
            ps.both_given
            & ps.has_name
            & (ps.name >= st.postcode_min_name)
            & (st.accept_conflicting_dob | ~ps.has_dob),
        ),
    )
    return score, accept


def name_needed(kind: np.ndarray, postcode: np.ndarray, st: MatchSettings) -> np.ndarray:
    """The least name similarity with which :func:`decide` could accept each pair."""
    dated = kind >= DOB_SWAPPED
    factor = np.where(kind == DOB_EXACT, 1.0, st.swapped_dob_factor)
    partial = max(st.partial_dob_min_name,
                  (st.name_dob_threshold - st.postcode_bonus) / max(st.partial_dob_factor, 1e-9))
    return np.where(
        dated,
        np.where(postcode, st.dob_postcode_min_name,
                 st.name_dob_threshold / np.maximum(factor, 1e-9)),
        np.where(kind == DOB_PARTIAL, partial, st.postcode_min_name),
    )


def name_upper_bound(
    enc: EncodedRecords, rows: np.ndarray, side: NameSide, members: np.ndarray,
    given_weight: float, member_side: _MemberSide | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """An upper bound of :func:`score_pairs`' name similarity from the surnames (the
    same value score_pairs computes, returned too) and the given name compared as a
    surname: the given name can add at most ``given_weight``, straight or crossed."""
    m = member_side if member_side is not None else _MemberSide.of(side, members)
    _, _, _, px_l = enc.popcounts()
    s = _surname_similarity(enc, rows, side, members, m, _take(enc.surname_parts()[0], rows))
    gs = _dice(_take(enc.gx, rows), m.sn0, px_l.take(rows), m.ps0)
    straight = given_weight + (1.0 - given_weight) * s
    crossed = 0.95 * (given_weight + (1.0 - given_weight) * gs)
    return np.maximum(straight, crossed), s


def _best_per_row(rows: np.ndarray, scores: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Indices of the highest-scoring pair of each row; of equal scores, the lowest member
    (so the result does not depend on the order pairs were found in)."""
    order = np.lexsort((members, -scores, rows))
    rs = rows[order]
    first = np.ones(rs.shape, dtype=bool)
    first[1:] = rs[1:] != rs[:-1]
    return order[first]


class Matcher:
    """Matches encoded batches against one loaded cohort."""

    def __init__(self, index: CohortIndex, prf: KeyedPRF, settings: MatchSettings) -> None:
        self.index = index
        self.prf = prf
        self.settings = settings

    def match(self, enc: EncodedRecords, file: str, first_record: int, out: MatchCollector) -> None:
        """Find cohort members in ``enc`` and offer them to ``out``."""
        records = np.arange(first_record, first_record + enc.n, dtype=np.int64)
        members = self.index.lookup_bsn(enc.bsn)
        hit = members >= 0
        if hit.any():
            out.offer(members[hit], "bsn", np.ones(int(hit.sum())), file, records[hit])
        need_names = enc.bsn_status != bsnrules.VALID
        typo_rows = np.flatnonzero(enc.bsn_status == bsnrules.TYPO)
        if typo_rows.size:
            fixed_rows, fixed_members, fixed_scores = self._correct(enc, typo_rows)
            if fixed_rows.size:
                out.offer(fixed_members, "bsn_corrected", fixed_scores, file, records[fixed_rows])
                need_names[fixed_rows] = False
        rows = np.flatnonzero(need_names & enc.name_dob_usable())
        if rows.size and self.index.size:
            r, m, s = self._name_dob(enc, rows)
            if r.size:
                out.offer(m, "name_dob", s, file, records[r])

    def _correct(
        self, enc: EncodedRecords, typo_rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        nb = bsnrules.neighbours(enc.bsn_value[typo_rows])  # (t, 89)
        valid = nb >= 0
        cand_rows = np.repeat(typo_rows, valid.sum(axis=1))
        keys = self.prf.encode(Domain.BSN, nb[valid])
        cand_members = self.index.lookup_bsn(keys)
        inside = cand_members >= 0
        cand_rows, cand_members = cand_rows[inside], cand_members[inside]
        empty = np.zeros(0, dtype=np.int64)
        if cand_rows.size == 0:
            return empty, empty, np.zeros(0)
        st = self.settings
        side = self.index.names
        ps = score_pairs(
            enc, cand_rows, side, cand_members, st.given_weight, st.given_floor,
            st.initial_weight,
        )
        dob_ok = ps.dob >= DOB_SWAPPED
        name_ok = ps.name >= st.name_dob_threshold
        contradicted = (ps.has_dob & ~dob_ok) | (ps.has_name & (ps.name < st.correction_min_name))
        corroborated = (ps.has_dob & dob_ok) | (ps.has_name & name_ok)
        # Per row: how many member neighbours, how many consistent ones.
        uniq_rows, start, n_cand = np.unique(cand_rows, return_index=True, return_counts=True)
        consistent = ~contradicted
        n_cons = np.add.reduceat(consistent.astype(np.int64), start)
        out_rows, out_members, out_scores = [], [], []
        for row, s0, nc, ncons in zip(
            uniq_rows.tolist(), start.tolist(), n_cand.tolist(), n_cons.tolist(), strict=True
        ):
            if ncons != 1:
                continue
            j = s0 + int(np.flatnonzero(consistent[s0 : s0 + nc])[0])
            if nc > 1 and not corroborated[j]:
                continue
            out_rows.append(row)
            out_members.append(int(cand_members[j]))
            score = 0.8 + 0.1 * bool(ps.has_dob[j] and dob_ok[j]) + 0.09 * bool(name_ok[j])
            out_scores.append(score)
        return (
            np.asarray(out_rows, dtype=np.int64),
            np.asarray(out_members, dtype=np.int64),
            np.asarray(out_scores, dtype=np.float64),
        )

    def _name_dob(
        self, enc: EncodedRecords, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        st = self.settings
        side = self.index.names
        queries = np.concatenate([_take(enc.blocks, rows), _take(enc.blocks_swap, rows)], axis=1)
        # Two date parts are only ever accepted with an agreeing postcode (see decide), and
        # any exact-date pair those blocks find shares a (date, sound) block too: rows
        # without a postcode need not look them up.
        queries[enc.postcode[rows] == 0, PARTIAL_DATE_BLOCKS] = 0
        found_rows, found_members, found_scores = [], [], []
        # Chunk rows so that the pairs of one chunk stay within the memory budget.
        step = max(1, st.pair_chunk // 50)
        for lo in range(0, rows.size, step):
            sub = rows[lo : lo + step]
            q_rows, members = side.candidates(queries[lo : lo + step], st.max_block)
            if members.size == 0:
                continue
            pair_rows = sub.take(q_rows)
            # One gather of what every pair is checked on first (a cache line a member).
            msd = _MemberSide.of(side, members)
            # Only pairs whose birth dates can still reach the threshold are scored on
            # names (gathering filters is the expensive part).
            kind, has_dob, pc_ok = date_postcode(enc, pair_rows, side, members, msd)
            hopeful = np.flatnonzero((kind >= DOB_SWAPPED) | pc_ok)
            if hopeful.size < members.size:
                pair_rows, members = pair_rows[hopeful], members[hopeful]
                kind, has_dob, pc_ok = kind[hopeful], has_dob[hopeful], pc_ok[hopeful]
                msd = msd.subset(hopeful)
            # Most candidates are strangers sharing a birth date and an initial; an upper
            # bound from the surnames alone rules them out before the full comparison.
            bound, surnames = name_upper_bound(
                enc, pair_rows, side, members, st.given_weight, msd
            )
            keep = np.flatnonzero(bound >= name_needed(kind, pc_ok, st) - 1e-9)
            pair_rows, members = pair_rows[keep], members[keep]
            kind, has_dob, pc_ok = kind[keep], has_dob[keep], pc_ok[keep]
            msd, surnames = msd.subset(keep), surnames[keep]
            for a in range(0, members.size, st.pair_chunk):
                cut = slice(a, a + st.pair_chunk)
                pr, pm = pair_rows[cut], members[cut]
                part = msd if members.size <= st.pair_chunk else msd.subset(
                    np.arange(a, min(a + st.pair_chunk, members.size))
                )
                ps = score_pairs(
                    enc, pr, side, pm, st.given_weight, st.given_floor,
                    st.initial_weight, (kind[cut], has_dob[cut], pc_ok[cut]), part,
                    surnames[cut],
                )
                score, accept = decide(ps, st)
                if accept.any():
                    found_rows.append(pr[accept])
                    found_members.append(pm[accept])
                    found_scores.append(score[accept])
        if not found_rows:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        r = np.concatenate(found_rows)
        m = np.concatenate(found_members)
        s = np.concatenate(found_scores)
        best = _best_per_row(r, s, m)
        return r[best], m[best], s[best]
