using Akka.Actor;

namespace UFork.Supervision;

/// <summary>
/// Staggered start, as ufork's max_no_ping_children: at most <c>limit</c> workers may be starting
/// (spawned, not yet ready) at any time; the others queue in order of asking. Every operation is O(1),
/// so a fleet of a thousand queued workers costs nothing to drain.
/// </summary>
internal sealed class StartGate(int limit)
{
    private readonly HashSet<IActorRef> _starting = [];
    private readonly LinkedList<IActorRef> _waiting = new();
    private readonly Dictionary<IActorRef, LinkedListNode<IActorRef>> _waitingNodes = new();

    /// <summary>True when <paramref name="worker"/> may start now; otherwise it is queued.</summary>
    public bool TryEnter(IActorRef worker)
    {
        if (_starting.Contains(worker))
            return true;
        if (_starting.Count < limit && _waiting.Count == 0)
        {
            _starting.Add(worker);
            return true;
        }
        if (!_waitingNodes.ContainsKey(worker))
            _waitingNodes[worker] = _waiting.AddLast(worker);
        return false;
    }

    /// <summary>
    /// <paramref name="worker"/> is ready, dead or gone: frees its place (or its spot in the queue) and
    /// returns the workers that may start now.
    /// </summary>
    public IReadOnlyList<IActorRef> Leave(IActorRef worker)
    {
        _starting.Remove(worker);
        if (_waitingNodes.Remove(worker, out var node))
            _waiting.Remove(node);
        List<IActorRef>? admitted = null;
        while (_starting.Count < limit && _waiting.First is { } next)
        {
            _waiting.RemoveFirst();
            _waitingNodes.Remove(next.Value);
            _starting.Add(next.Value);
            (admitted ??= []).Add(next.Value);
        }
        return admitted ?? (IReadOnlyList<IActorRef>)[];
    }
}
