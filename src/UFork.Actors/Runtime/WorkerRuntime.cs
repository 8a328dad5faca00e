using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace UFork.Runtime;

/// <summary>
/// What runs inside a .NET worker process: the post-fork function, with heartbeats sent from a thread
/// of their own (so busy user code cannot starve them), a stop token that SIGTERM cancels, and a watch on
/// the arbiter's lifeline so that the worker never outlives its arbiter.
/// </summary>
public static class WorkerRuntime
{
    // After the arbiter dies nobody enforces a grace period, so the worker gives itself this long.
    private static readonly TimeSpan OrphanGrace = TimeSpan.FromMilliseconds(500);

    public const int ExitSoftware = 70; // EX_SOFTWARE: the post-fork function threw

    public static async Task<int> RunAsync(
        Func<WorkerContext, CancellationToken, Task> postFork,
        Func<Task>? childPreExit = null)
    {
        var id = WorkerEnvironment.CurrentWorkerId
                 ?? throw new InvalidOperationException($"{WorkerEnvironment.WorkerId} is not set: this is not a worker process");
        using var stopping = new CancellationTokenSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stopping.Cancel(); });
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stopping.Cancel(); });

        StartHeartbeats();
        var finished = new TaskCompletionSource();
        WatchLifeline(stopping, finished.Task);

        var listenFds = Enumerable.Range(3, WorkerEnvironment.ReadInt(WorkerEnvironment.ListenFds) ?? 0).ToList();
        var context = new WorkerContext(id, Environment.ProcessId, listenFds);
        var exitCode = 0;
        try
        {
            await postFork(context, stopping.Token);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            await Console.Error.WriteLineAsync($"worker {id}: post-fork function failed: {e}");
            exitCode = ExitSoftware;
        }
        finally
        {
            if (childPreExit is not null)
                await childPreExit();
            finished.TrySetResult();
        }
        return exitCode;
    }

    private static void StartHeartbeats()
    {
        if (WorkerEnvironment.ReadInt(WorkerEnvironment.HeartbeatFd) is not { } fd)
            return;
        var interval = TimeSpan.FromMilliseconds(WorkerEnvironment.ReadInt(WorkerEnvironment.HeartbeatIntervalMs) ?? 1000);
        var pipe = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write, bufferSize: 0);
        StartThread("ufork-heartbeat", () =>
        {
            var beat = new byte[] { 1 };
            try
            {
                while (true)
                {
                    pipe.Write(beat);
                    Thread.Sleep(interval);
                }
            }
            catch (IOException)
            {
                // The arbiter closed its end: the lifeline takes it from here.
            }
        });
    }

    private static void WatchLifeline(CancellationTokenSource stopping, Task finished)
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
            Console.Error.WriteLine($"worker {WorkerEnvironment.CurrentWorkerId}: the arbiter is gone; exiting");
            stopping.Cancel();
            finished.Wait(OrphanGrace);
            Environment.Exit(1);
        });
    }

    private static void StartThread(string name, Action body) =>
        new Thread(() => body()) { IsBackground = true, Name = name }.Start();
}
