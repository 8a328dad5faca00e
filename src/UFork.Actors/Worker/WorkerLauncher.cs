using UFork.Configuration;
using UFork.Runtime;
using UFork.Spawning;

namespace UFork.Worker;

/// <summary>A started worker process and the read end of its heartbeat pipe.</summary>
internal sealed record LaunchedWorker(ChildProcess Process, Stream Heartbeats)
{
    /// <summary>Beats the worker wrote that nobody has read yet (the arbiter was paused, or busy).</summary>
    public bool HasUnreadHeartbeats
    {
        get
        {
            try
            {
                return Heartbeats is System.IO.Pipes.PipeStream pipe && Libc.UnreadBytes(pipe.SafePipeHandle) > 0;
            }
            catch (ObjectDisposedException)
            {
                return false;
            }
        }
    }
}

/// <summary>
/// Turns a <see cref="WorkerCommand"/> and a slot into a running process: fds 3.. carry the shared
/// listen sockets, then the heartbeat pipe and the arbiter's lifeline, as <see cref="WorkerEnvironment"/>
/// describes.
/// </summary>
internal static class WorkerLauncher
{
    private static readonly object LifelineGate = new();
    private static (int Read, int Write)? _lifeline;

    /// <summary>
    /// Its write end stays open, unshared, for the life of the arbiter process: when the arbiter dies,
    /// for whatever reason, every worker's read end sees EOF within milliseconds. Made on first use, so that
    /// a failure (no fd left) fails that launch with its reason, and the next launch tries again.
    /// </summary>
    private static int LifelineReadEnd()
    {
        lock (LifelineGate)
            return (_lifeline ??= Libc.Pipe()).Read;
    }

    public static async Task<LaunchedWorker> LaunchAsync(
        WorkerCommand command, int slot, UForkSettings settings, IReadOnlyList<ListenSocket> sockets)
    {
        var lifeline = LifelineReadEnd();
        var heartbeat = Libc.Pipe();
        try
        {
            var process = await ProcessReactor.Shared.SpawnAsync(new ProcessSpec(
                command.IsUForkRuntime ? command.FileName : Setpriv,
                WrappedArguments(command, sockets.Count > 0),
                WorkerVariables(slot, settings, sockets),
                [.. sockets.Select(s => s.Fd), heartbeat.Write, lifeline]));
            return new LaunchedWorker(process, ChildProcess.ReadEnd(heartbeat.Read));
        }
        catch
        {
            Libc.close(heartbeat.Read);
            throw;
        }
        finally
        {
            Libc.close(heartbeat.Write);
        }
    }

    private static Dictionary<string, string> WorkerVariables(int slot, UForkSettings settings, IReadOnlyList<ListenSocket> sockets)
    {
        var n = sockets.Count;
        var environment = new Dictionary<string, string>
        {
            [WorkerEnvironment.WorkerId] = slot.ToString(),
            [WorkerEnvironment.HeartbeatFd] = (3 + n).ToString(),
            [WorkerEnvironment.HeartbeatIntervalMs] = ((int)settings.Heartbeat.Interval.TotalMilliseconds).ToString(),
            [WorkerEnvironment.LifelineFd] = (4 + n).ToString(),
            [WorkerEnvironment.MemoryLimit] = settings.WorkerMemoryLimit.ToString(),
            [WorkerEnvironment.ShutdownGraceMs] = ((long)settings.ShutdownGrace.TotalMilliseconds).ToString(),
        };
        if (settings.Metrics.Interval > TimeSpan.Zero)
            environment[WorkerEnvironment.MetricsIntervalMs] = ((int)settings.Metrics.Interval.TotalMilliseconds).ToString();
        if (n > 0)
        {
            environment[WorkerEnvironment.ListenBacklog] = settings.Backlog.ToString();
            environment[WorkerEnvironment.ListenFds] = n.ToString();
            environment[WorkerEnvironment.ListenFdNames] = string.Join(':', sockets.Select(s => s.Name));
        }
        return environment;
    }

    private const string Setpriv = "/usr/bin/setpriv";

    /// <summary>
    /// A program of any language cannot watch the lifeline, so setpriv sets PR_SET_PDEATHSIG=SIGKILL
    /// before exec'ing it. With sockets, a shell in between exports LISTEN_PID=$$ (the pid the program
    /// will have after exec), which only the child itself can know.
    /// </summary>
    private static IReadOnlyList<string> WrappedArguments(WorkerCommand command, bool hasSockets)
    {
        if (command.IsUForkRuntime)
            return command.Arguments;
        List<string> wrapped = ["--pdeathsig", "KILL", "--"];
        if (hasSockets)
            wrapped.AddRange(["/bin/sh", "-c", $"export {WorkerEnvironment.ListenPid}=$$; exec \"$0\" \"$@\""]);
        wrapped.Add(command.FileName);
        wrapped.AddRange(command.Arguments);
        return wrapped;
    }
}
