"""Cycles in the BOM graph, found without looping on them.

The BOM *structure* (distinct parent -> child pairs) is small next to the
orders and fits on the driver; an iterative Tarjan finds its strongly connected
components in O(nodes + edges). An edge lies on a cycle when its parent and
child are in the same component (or it is a self-loop).
"""
from collections import defaultdict
from typing import Iterable


def strongly_connected_components(pairs: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Component number of every node (iterative Tarjan, no recursion limit)."""
    graph: dict[str, list[str]] = defaultdict(list)
    for parent, child in pairs:
        graph[parent].append(child)
        graph.setdefault(child, [])
    index, low, component = {}, {}, {}
    stack, on_stack, counter, components = [], set(), 0, 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component[member] = components
                    if member == node:
                        break
                components += 1
    return component


def cycle_pairs(pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (parent, child) pairs whose parent and child lie on a common cycle."""
    pairs = list(pairs)
    component = strongly_connected_components(pairs)
    return {(p, c) for p, c in pairs if p == c or component[p] == component[c]}


def reachable(pairs: Iterable[tuple[str, str]], roots: Iterable[str]) -> dict[str, set[str]]:
    """For each root, every node reachable from it (the root included), ignoring dates, plants and rules."""
    graph: dict[str, list[str]] = defaultdict(list)
    for parent, child in pairs:
        graph[parent].append(child)
    result = {}
    for root in roots:
        seen, todo = {root}, [root]
        while todo:
            for child in graph.get(todo.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        result[root] = seen
    return result


def labels_below(edges: Iterable[tuple[str, str, str]]) -> dict[str, frozenset]:
    """For each node with children: the non-empty labels (rule keys) on every edge of its sub-structure.

    One post-order walk over the DAG (iterative, memoised, so a shared sub-assembly is walked once)."""
    graph: dict[str, list] = defaultdict(list)
    for parent, child, label in edges:
        graph[parent].append((child, label))
    below: dict[str, frozenset] = {}
    for start in list(graph):
        stack = [(start, False)]
        while stack:
            node, children_done = stack.pop()
            if node in below:
                continue
            if children_done:
                labels = set()
                for child, label in graph.get(node, ()):
                    if label:
                        labels.add(label)
                    labels |= below.get(child, frozenset())
                below[node] = frozenset(labels)
            else:
                stack.append((node, True))
                stack.extend((child, False) for child, _ in graph.get(node, ()) if child not in below)
    return below
