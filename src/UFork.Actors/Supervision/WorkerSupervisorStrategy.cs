using Akka.Actor;
using Akka.Actor.Internal;
using Akka.Event;

namespace UFork.Supervision;

/// <summary>
/// The one place that decides what happens to a slot whose worker failed, following the
/// <see cref="RestartPolicy"/>: Akka restarts the WorkerActor (its mailbox, its slot and its name
/// survive), and the strategy tells the new incarnation its plan — start again after a delay, or give up
/// and show the slot as failed until a person restarts it. The failure counts live here, per WorkerActor,
/// not in the actor that failed.
/// <para>
/// A rolling restart's replacement is on trial: its first failure stops it (Akka's Stop), and the arbiter
/// aborts the restart instead of retrying a release that does not come up. Any other exception (a bug in
/// uFork, a sink that threw) resumes the actor as it was: its live worker keeps running.
/// </para>
/// </summary>
internal sealed class WorkerSupervisorStrategy : OneForOneStrategy
{
    private readonly RestartPolicy _policy;
    private readonly Dictionary<IActorRef, SlotRecord> _records = new();
    private readonly HashSet<IActorRef> _onTrial = new();
    private bool _stopping;

    public WorkerSupervisorStrategy(RestartPolicy policy)
        : base(maxNrOfRetries: -1, withinTimeMilliseconds: -1, decider: Akka.Actor.Decider.From(Directive.Restart), loggingEnabled: true)
        => _policy = policy;

    public void PutOnTrial(IActorRef worker) => _onTrial.Add(worker);

    /// <summary>The replacement passed: from now on it is restarted like any worker.</summary>
    public void EndTrial(IActorRef worker) => _onTrial.Remove(worker);

    /// <summary>A person brought a failed slot back: it starts with a clean record (its restarts still count).</summary>
    public void Forgive(IActorRef worker)
    {
        if (_records.TryGetValue(worker, out var record))
            _records[worker] = record with { ConsecutiveFailures = 0 };
    }

    public void Forget(IActorRef worker)
    {
        _records.Remove(worker);
        _onTrial.Remove(worker);
    }

    public bool HasGivenUp(IActorRef worker) =>
        _records.TryGetValue(worker, out var record) && _policy.GivesUp(record.ConsecutiveFailures);

    /// <summary>The arbiter is shutting down: a worker that dies now is not started again.</summary>
    public void StopRestarting() => _stopping = true;

    protected override Directive Handle(IActorRef child, Exception exception) => exception switch
    {
        WorkerFailedException when _stopping || _onTrial.Contains(child) => Directive.Stop,
        WorkerFailedException => Directive.Restart,
        _ => Directive.Resume,
    };

    public override void ProcessFailure(IActorContext context, bool restart, IActorRef child, Exception cause,
        ChildRestartStats stats, IReadOnlyCollection<ChildRestartStats> children)
    {
        base.ProcessFailure(context, restart, child, cause, stats, children);
        if (restart && cause is WorkerFailedException failure)
            child.Tell(Plan(child, failure.Death)); // lands in the new incarnation's mailbox
    }

    /// <summary>A worker's death is logged by the arbiter in words a person can act on; only the unexpected is logged here.</summary>
    protected override void LogFailure(IActorContext context, IActorRef child, Exception cause, Directive directive)
    {
        if (cause is not WorkerFailedException)
            context.GetLogger().Error(cause, "{0}: unexpected failure ({1}); resumed with its worker running", child.Path.Name, cause.Message);
    }

    private object Plan(IActorRef child, DeadWorker death)
    {
        var record = _records.GetValueOrDefault(child);
        var failures = _policy.CountFailure(record.ConsecutiveFailures, death.Uptime);
        if (_policy.GivesUp(failures))
        {
            _records[child] = record with { ConsecutiveFailures = failures };
            return new GiveUp($"{failures} consecutive failures (ufork.restart.max-retries = {_policy.MaxRetries}); the last: {death.Reason}",
                record.Restarts);
        }
        _records[child] = new SlotRecord(failures, record.Restarts + 1);
        return new BackOff(_policy.DelayBefore(failures), failures, record.Restarts + 1);
    }

    private readonly record struct SlotRecord(int ConsecutiveFailures, int Restarts);
}

/// <summary>Strategy to a restarted WorkerActor: wait <see cref="Delay"/>, then start again.</summary>
internal sealed record BackOff(TimeSpan Delay, int ConsecutiveFailures, int Restarts);

/// <summary>Strategy to a restarted WorkerActor: the policy gave up; show the slot as failed.</summary>
internal sealed record GiveUp(string Reason, int Restarts);
