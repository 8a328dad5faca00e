using Akka.Actor;
using Akka.Event;
using UFork.Spawning;

namespace UFork.Supervision;

// The one command set of an arbiter. The facade, the ufork> prompt, the control socket and signals
// all send these messages to the ArbiterActor; replies are data for each door to render.

public sealed record ListWorkers
{
    public static ListWorkers Instance { get; } = new();
}

public sealed record ListDeadWorkers
{
    public static ListDeadWorkers Instance { get; } = new();
}

/// <summary>Grow or shrink the fleet; replies <see cref="CommandDone"/>.</summary>
public sealed record Scale(int Workers);

/// <summary>
/// One worker more or fewer than the arbiter keeps now (SIGTTIN, SIGTTOU), never fewer than one;
/// replies <see cref="CommandDone"/>. Relative, so that two signals in a row both count.
/// </summary>
public sealed record ScaleBy(int Delta);

/// <summary>
/// Rolling restart of one slot, or of every slot when Slot is null, one at a time: each replacement is
/// ready before the worker it replaces is told to stop, so no request finds the fleet short. A
/// replacement that dies or is not ready within ufork.heartbeat.start-timeout aborts the restart: the
/// old worker keeps serving. Replies <see cref="CommandDone"/> once the restart is done or aborted, saying
/// why. A failed slot is brought back instead.
/// </summary>
public sealed record RestartWorkers(int? Slot);

/// <summary>SIGKILL one worker (to watch recovery); replies <see cref="CommandDone"/>.</summary>
public sealed record KillWorker(int Slot);

/// <summary>
/// Change the log level of the arbiter's ActorSystem at run time (its event stream); replies <see cref="CommandDone"/>.
/// </summary>
public sealed record SetLogLevel(LogLevel Level);

/// <summary>
/// Stop every worker and then the arbiter; replies <see cref="ShutdownComplete"/>. Graceful: SIGTERM and
/// the grace period. Fast (gunicorn's QUIT): SIGTERM, then SIGKILL at once for whatever is left.
/// </summary>
public sealed record Shutdown(bool Fast = false)
{
    public static Shutdown Instance { get; } = new();
}

/// <summary>Reopen the log file after logrotate moved it (SIGUSR1); replies <see cref="CommandDone"/>.</summary>
public sealed record ReopenLog
{
    public static ReopenLog Instance { get; } = new();
}

public sealed record ShutdownComplete
{
    public static ShutdownComplete Instance { get; } = new();
}

public sealed record CommandDone(bool Ok, string Message);

public enum WorkerState
{
    /// <summary>Waiting out a restart delay after repeated failures.</summary>
    BackingOff,
    /// <summary>Waiting for its turn: at most ufork.max-unhealthy-starting workers start at once.</summary>
    Queued,
    /// <summary>Spawned, not yet ready.</summary>
    Starting,
    /// <summary>Said it is ready (or, a command that speaks no protocol, stayed up ufork.worker.start-seconds).</summary>
    Ready,
    /// <summary>SIGTERM sent; waiting for it to exit within the grace period.</summary>
    Stopping,
    /// <summary>Given up on by the restart policy (or a boot failure): no process; `restart SLOT` brings it back.</summary>
    Failed,
}

public sealed record WorkerStatus(
    int Slot,
    int? Pid,
    WorkerState State,
    DateTimeOffset? StartedAt,
    int Restarts,
    TimeSpan? LastHeartbeatAge,
    long? ResidentBytes,
    DateTimeOffset? BackoffUntil,
    string? FailedBecause = null)
{
    /// <summary>User and system CPU time of the process so far.</summary>
    public TimeSpan? CpuTime { get; init; }

    /// <summary>Percent of one core since the previous status of this worker (since its start, the first time).</summary>
    public double? CpuPercent { get; init; }

    /// <summary>HTTP requests per second, from the worker's own <c>http.server.request.duration</c>; null if it serves none.</summary>
    public double? RequestsPerSecond { get; init; }

    /// <summary>Lines and bytes of output (stdout and stderr) of the process so far.</summary>
    public long OutputLines { get; init; }

    /// <inheritdoc cref="OutputLines"/>
    public long OutputBytes { get; init; }
}

/// <summary>Why a worker process ended.</summary>
public enum DeathCause
{
    /// <summary>It exited or was killed by something outside uFork.</summary>
    Exited,
    /// <summary>It could not be started at all.</summary>
    SpawnFailed,
    /// <summary>Killed for silence: no first heartbeat in time, or no heartbeat since.</summary>
    Unresponsive,
    /// <summary>Killed for resident memory over ufork.worker.memory-limit.</summary>
    OverMemoryLimit,
    /// <summary>Killed by a person (kill, restart).</summary>
    Killed,
    /// <summary>Stopped on purpose: shutdown or scale down.</summary>
    Stopped,
}

/// <summary>Published on the event stream when a worker sent its instruments (for the metrics endpoint).</summary>
internal sealed record WorkerInstruments(int Slot, int Pid, Metrics.MetricsSnapshot Snapshot);

/// <summary>Published on the event stream when a rolling restart ends, done or aborted.</summary>
internal sealed record RollingRestartEnded(bool Completed);

/// <summary>Published on the ActorSystem's event stream each time a worker process starts.</summary>
public sealed record WorkerStarted(int Slot, int Pid, DateTimeOffset At);

/// <summary>
/// Published on the event stream (and told to the arbiter) when a worker becomes ready: it said so, or,
/// a command that speaks no protocol, it stayed up ufork.worker.start-seconds.
/// </summary>
public sealed record WorkerReady(int Slot, int Pid, DateTimeOffset At);

/// <summary>
/// One entry of the arbiter's history of dead workers; also published on the event stream.
/// <see cref="WasReady"/> tells a death at boot from one in service; <see cref="LastLines"/> are the last
/// lines it wrote (stdout and stderr), for the log of a worker that never came up.
/// </summary>
public sealed record DeadWorker(
    int Slot, int Pid, ExitStatus Status, TimeSpan Uptime, DeathCause Cause, string Reason, DateTimeOffset DiedAt,
    bool WasReady = false, IReadOnlyList<string>? LastLines = null);

/// <summary>
/// Published on the event stream as an arbiter stops: exit code 0 after a requested shutdown, or
/// <see cref="ArbiterActor.BootFailedExitCode"/> when it halted because its workers could not boot.
/// </summary>
public sealed record ArbiterStopped(IActorRef Arbiter, int ExitCode, string? Reason);
