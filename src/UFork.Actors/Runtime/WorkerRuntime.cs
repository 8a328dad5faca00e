using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace UFork.Runtime;

/// <summary>
/// What runs inside a .NET worker process: the post-fork function, with heartbeats (and self-checks)
/// sent from a thread of their own so busy user code cannot starve them, a stop token that SIGTERM
/// cancels, and a watch on the arbiter's lifeline so that the worker never outlives its arbiter.
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
        StartHeartbeats();
        WatchLifeline();

        var listenFds = Enumerable.Range(3, WorkerEnvironment.ReadInt(WorkerEnvironment.ListenFds) ?? 0).ToList();
        var exitCode = 0;
        try
        {
            await postFork(new WorkerContext(_workerId, Environment.ProcessId, listenFds), _stopping.Token);
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

    /// <summary>The first beat goes before user code runs (the runtime is up); the rest from their own thread.</summary>
    private void StartHeartbeats()
    {
        if (WorkerEnvironment.ReadInt(WorkerEnvironment.HeartbeatFd) is not { } fd)
            return;
        var interval = TimeSpan.FromMilliseconds(WorkerEnvironment.ReadInt(WorkerEnvironment.HeartbeatIntervalMs) ?? 1000);
        var memoryLimit = long.TryParse(Environment.GetEnvironmentVariable(WorkerEnvironment.MemoryLimit), out var bytes) ? bytes : long.MaxValue;
        var pipe = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write, bufferSize: 0);
        var beat = new byte[] { 1 };
        pipe.Write(beat);
        StartThread("ufork-heartbeat", () =>
        {
            try
            {
                string? violation;
                while ((violation = SelfCheck.Violation(memoryLimit)) is null)
                {
                    Thread.Sleep(interval);
                    pipe.Write(beat);
                }
                ExitSoon($"{violation}; exiting to be replaced", ExitTempFail);
            }
            catch (IOException)
            {
                // The arbiter closed its end: the lifeline takes it from here.
            }
        });
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
