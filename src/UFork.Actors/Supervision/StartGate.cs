using Akka.Actor;

namespace UFork.Supervision;

/// <summary>
/// Staggered start, as ufork's max_no_ping_children: at most <c>limit</c> workers may be starting
/// (spawned, first heartbeat not yet received) at any time; the others queue in order of asking.
/// </summary>
internal sealed class StartGate(int limit)
{
    private readonly HashSet<IActorRef> _starting = [];
    private readonly Queue<IActorRef> _waiting = new();

    /// <summary>True when <paramref name="worker"/> may start now; otherwise it is queued.</summary>
    public bool TryEnter(IActorRef worker)
    {
        if (_starting.Contains(worker) || _starting.Count < limit)
        {
            _starting.Add(worker);
            return true;
        }
        if (!_waiting.Contains(worker))
            _waiting.Enqueue(worker);
        return false;
    }

    /// <summary>
    /// <paramref name="worker"/> is healthy, dead or gone: frees its place (or its spot in the queue) and
    /// returns the workers that may start now.
    /// </summary>
    public IReadOnlyList<IActorRef> Leave(IActorRef worker)
    {
        _starting.Remove(worker);
        if (_waiting.Contains(worker))
        {
            var others = _waiting.Where(w => !w.Equals(worker)).ToList();
            _waiting.Clear();
            foreach (var other in others)
                _waiting.Enqueue(other);
        }
        var admitted = new List<IActorRef>();
        while (_starting.Count < limit && _waiting.TryDequeue(out var next))
        {
            _starting.Add(next);
            admitted.Add(next);
        }
        return admitted;
    }
}
