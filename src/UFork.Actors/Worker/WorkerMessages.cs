using UFork.Metrics;
using UFork.Spawning;

namespace UFork.Worker;

// What the pipe readers and the process reactor report to a WorkerActor. Each carries the pid it is
// about, so that a report from a previous incarnation's process is recognised and dropped.

internal sealed record ProcessStarted(LaunchedWorker Worker);

internal sealed record SpawnFailed(Exception Error);

/// <summary>Something was written on the heartbeat fd: the worker is alive.</summary>
internal sealed record Heartbeat(int Pid);

/// <summary>The worker sent its instruments on its heartbeat fd (a metrics line).</summary>
internal sealed record MetricsReported(int Pid, MetricsSnapshot Snapshot, DateTimeOffset At);

/// <summary>The worker wrote the ready message on its heartbeat fd.</summary>
internal sealed record ReadyReported(int Pid);

/// <summary>
/// The process has been reaped and what it wrote has been echoed (or, when a grandchild keeps its pipes
/// open, a moment has passed: the rest is echoed as it comes). <see cref="Uptime"/> is measured at the death.
/// </summary>
internal sealed record ProcessExited(int Pid, ExitStatus Status, TimeSpan Uptime);

// What the arbiter asks of a WorkerActor.

/// <summary>SIGTERM, then SIGKILL after the grace period; the actor stops once the process is reaped.</summary>
internal sealed record StopWorker(TimeSpan Grace);

/// <summary>SIGKILL now; the death is a failure like any other, and the slot is refilled.</summary>
internal sealed record KillProcess(string Reason);

/// <summary>Compare the process's resident memory with ufork.worker.memory-limit, and kill it if over.</summary>
internal sealed record CheckMemory
{
    public static CheckMemory Instance { get; } = new();
}

internal sealed record GetStatus
{
    public static GetStatus Instance { get; } = new();
}

/// <summary>A person asked for a failed slot back (restart SLOT, scale): start again with a clean record.</summary>
internal sealed record Revive
{
    public static Revive Instance { get; } = new();
}

// Between a WorkerActor and the arbiter's StartGate.

/// <summary>Worker to arbiter: may I start my process?</summary>
internal sealed record RequestStart
{
    public static RequestStart Instance { get; } = new();
}

/// <summary>Arbiter to worker: start it.</summary>
internal sealed record StartPermitted
{
    public static StartPermitted Instance { get; } = new();
}
