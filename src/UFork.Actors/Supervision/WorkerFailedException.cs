using UFork.Spawning;

namespace UFork.Supervision;

/// <summary>
/// A worker process died or was killed as unhealthy: the failure of its WorkerActor that the arbiter's
/// <see cref="RestartPolicy"/> rules on. It carries the slot's failure count into the next incarnation.
/// </summary>
public sealed class WorkerFailedException(DeadWorker death, int consecutiveFailures, int restarts)
    : Exception($"worker {death.Slot} (pid {death.Pid}) died: {death.Reason}")
{
    public DeadWorker Death { get; } = death;
    public int ConsecutiveFailures { get; } = consecutiveFailures;
    public int Restarts { get; } = restarts;
}
