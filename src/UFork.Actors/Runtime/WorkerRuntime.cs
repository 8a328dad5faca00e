using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace UFork.Runtime;

/// <summary>
/// What runs inside a .NET worker process: the post-fork function, with heartbeats (and self-checks)
/// sent from the thread pool (<see cref="HeartbeatLoop"/>), so that an app that can no longer run its work
/// falls silent; the ready message when the post-fork function calls <see cref="WorkerContext.Ready"/>;
/// a stop token that SIGTERM cancels; and a watch on the arbiter's lifeline, from a thread of its own, so
/// that even a starved worker never outlives its arbiter.
/// </summary>
public sealed class WorkerRuntime
{
    public const int ExitSoftware = 70; // EX_SOFTWARE: the post-fork function threw
    public const int ExitTempFail = 75; // EX_TEMPFAIL: a self-check failed; a fresh worker will do better

    // After the arbiter dies, or a self-check fails, nobody enforces a grace period: the worker gives itself this long.
    private static readonly TimeSpan OwnGrace = TimeSpan.FromMilliseconds(500);

    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _finished = new();
    private readonly int _workerId;
    private int? _exitCode;

    private WorkerRuntime(int workerId) => _workerId = workerId;

    /// <summary>
    /// Runs <paramref name="postFork"/> as this worker's job and returns the process's exit code; the
    /// worker is <em>starting</em> until it calls <see cref="WorkerContext.Ready"/>.
    /// </summary>
    public static async Task<int> RunAsync(
        Func<WorkerContext, CancellationToken, Task> postFork,
        Func<Task>? childPreExit = null)
    {
        var id = WorkerEnvironment.CurrentWorkerId
                 ?? throw new InvalidOperationException($"{WorkerEnvironment.WorkerId} is not set: this is not a worker process");
        return await new WorkerRuntime(id).RunPostForkAsync(postFork, childPreExit);
    }

    private async Task<int> RunPostForkAsync(Func<WorkerContext, CancellationToken, Task> postFork, Func<Task>? childPreExit)
    {
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; _stopping.Cancel(); });
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; _stopping.Cancel(); });
        var listenFds = Enumerable.Range(3, WorkerEnvironment.ReadInt(WorkerEnvironment.ListenFds) ?? 0).ToList();
        var heartbeats = WorkerEnvironment.ReadInt(WorkerEnvironment.HeartbeatFd) is { } fd ? new HeartbeatPipe(fd) : null;
        var worker = new WorkerContext(_workerId, Environment.ProcessId, listenFds, heartbeats);
        if (heartbeats is not null)
        {
            _ = BeatAsync(heartbeats, worker);
            if (WorkerEnvironment.ReadInt(WorkerEnvironment.MetricsIntervalMs) is int ms and > 0)
                _ = SendMetricsAsync(heartbeats, TimeSpan.FromMilliseconds(ms));
        }
        WatchLifeline();

        var exitCode = 0;
        try
        {
            await postFork(worker, _stopping.Token);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            await Console.Error.WriteLineAsync($"worker {_workerId}: post-fork function failed: {e}");
            exitCode = ExitSoftware;
        }
        finally
        {
            if (childPreExit is not null)
                await childPreExit();
            _finished.TrySetResult();
        }
        return _exitCode ?? exitCode;
    }

    /// <summary>Returns at the loop's first await: the first beat waits an interval, on the pool.</summary>
    private async Task BeatAsync(HeartbeatPipe pipe, WorkerContext worker)
    {
        var interval = TimeSpan.FromMilliseconds(WorkerEnvironment.ReadInt(WorkerEnvironment.HeartbeatIntervalMs) ?? 1000);
        var memoryLimit = long.TryParse(Environment.GetEnvironmentVariable(WorkerEnvironment.MemoryLimit), out var bytes) ? bytes : long.MaxValue;
        string? violation;
        try
        {
            violation = await new HeartbeatLoop(pipe, worker, interval, memoryLimit).RunAsync();
        }
        catch (Exception e)
        {
            ExitSoon($"heartbeats failed: {e}", ExitSoftware);
            return;
        }
        if (violation is not null)
            ExitSoon($"{violation}; exiting to be replaced", ExitTempFail);
    }

    /// <summary>Metrics are a courtesy: if they fail, the worker says so once and goes on serving.</summary>
    private async Task SendMetricsAsync(HeartbeatPipe pipe, TimeSpan interval)
    {
        try
        {
            await new MetricsLoop(pipe, _workerId, interval).RunAsync();
        }
        catch (Exception e)
        {
            await Console.Error.WriteLineAsync($"worker {_workerId}: metrics stopped: {e.Message}");
        }
    }

    private void WatchLifeline()
    {
        if (WorkerEnvironment.ReadInt(WorkerEnvironment.LifelineFd) is not { } fd)
            return;
        var lifeline = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Read, bufferSize: 0);
        StartThread("ufork-lifeline", () =>
        {
            try
            {
                while (lifeline.Read(new byte[1]) > 0)
                {
                }
            }
            catch (IOException)
            {
            }
            ExitSoon("the arbiter is gone; exiting", 1);
        });
    }

    /// <summary>Asks the post-fork function to stop, gives it a moment, and exits with this code regardless.</summary>
    private void ExitSoon(string why, int exitCode)
    {
        Console.Error.WriteLine($"worker {_workerId}: {why}");
        _exitCode = exitCode;
        _stopping.Cancel();
        _finished.Task.Wait(OwnGrace);
        Environment.Exit(exitCode);
    }

    private static void StartThread(string name, Action body) =>
        new Thread(() => body()) { IsBackground = true, Name = name }.Start();
}
