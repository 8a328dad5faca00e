using Mono.Unix.Native;
using UFork.Configuration;
using UFork.Hosting;
using UFork.Spawning;
using UFork.Worker;

namespace UFork.Daemon;

/// <summary>
/// Running in the background without fork (.NET cannot fork): the program starts itself again, with
/// the same arguments, through posix_spawn in a new session (setsid, so no terminal and no job-control
/// signals reach it), stdin on /dev/null, every signal at its default, umask 022, and the marker
/// <c>UFORK_DAEMON</c>. It keeps the working directory, as gunicorn does, so that relative paths in the
/// worker's own command (<c>python3 app.py</c>) mean what they meant when typed; uFork's own paths are
/// absolute by then. The parent waits until the daemon reports that it is up, prints its pid and exits 0;
/// or it repeats the daemon's error line and exits with the daemon's exit code.
/// </summary>
public static class Daemonizer
{
    public const string Marker = "UFORK_DAEMON";
    private const string ReadyLine = "ufork: daemon ready";
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// True in the daemon itself. Read once, then removed from the environment so that workers do not
    /// inherit it.
    /// </summary>
    public static bool IsDaemon { get; } = ConsumeMarker();

    /// <summary>True when these settings ask for a daemon and this process is not it yet.</summary>
    public static bool MustDetach(UForkSettings settings) => settings.Daemon.Detach && !IsDaemon;

    /// <summary>Starts the daemon and waits for its report; returns this process's exit code.</summary>
    /// <exception cref="ArbiterStartException">There is no log file to write to.</exception>
    public static async Task<int> DetachAsync(UForkSettings settings)
    {
        if (settings.Log.File is null)
            throw new ArbiterStartException("a daemon needs a log file (--log-file, or ufork.log.file): it has no terminal to print to");
        var program = WorkerCommand.SameProgram(Environment.GetCommandLineArgs()[1..]);
        Syscall.umask(FilePermissions.S_IWGRP | FilePermissions.S_IWOTH); // inherited by the daemon; this process only waits now
        var daemon = PosixSpawner.Spawn(new ProcessSpec(
            program.FileName, program.Arguments, new Dictionary<string, string> { [Marker] = "1" }, [], NewSession: true));
        await using var stdout = ChildProcess.ReadEnd(daemon.StdoutFd);
        await using var stderr = ChildProcess.ReadEnd(daemon.StderrFd);
        var errors = RelayAsync(stderr, Console.Error);
        bool ready;
        try
        {
            ready = await WaitForReadyAsync(stdout).WaitAsync(ReadyTimeout);
        }
        catch (TimeoutException)
        {
            Console.Error.WriteLine($"ufork: daemon pid {daemon.Pid} has not reported ready after {ReadyTimeout.TotalSeconds:0} s; " +
                                    $"it is still running: see {settings.Log.File}");
            return 1;
        }
        if (!ready)
            return Failed(daemon.Pid, said: await errors);
        await Task.WhenAny(errors, Task.Delay(TimeSpan.FromSeconds(1))); // what it said on the way up; EOF comes at once
        Console.WriteLine(daemon.Pid);
        return 0;
    }

    /// <summary>
    /// In the daemon: tells the waiting parent that it is up, then lets go of the pipes to it (the
    /// parent is about to exit; everything else goes to the log file): fds 1 and 2 become /dev/null,
    /// and the Console's own duplicates of them are closed, so that the parent sees end of file.
    /// </summary>
    internal static void ReportReady()
    {
        Console.Out.WriteLine(ReadyLine);
        Console.Out.Flush();
        var (stdout, stderr) = (Console.Out, Console.Error);
        Console.SetOut(TextWriter.Null);
        Console.SetError(TextWriter.Null);
        stdout.Dispose();
        stderr.Dispose();
        var devNull = Syscall.open("/dev/null", OpenFlags.O_RDWR);
        Syscall.dup2(devNull, 1);
        Syscall.dup2(devNull, 2);
        Syscall.close(devNull);
    }

    /// <summary>True when the ready line came; false at end of file (the daemon is gone). Other lines are passed on.</summary>
    private static async Task<bool> WaitForReadyAsync(Stream daemonStdout)
    {
        using var reader = new StreamReader(daemonStdout);
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line == ReadyLine)
                return true;
            Console.WriteLine(line);
        }
        return false;
    }

    /// <summary>Copies lines to <paramref name="destination"/> until end of file; returns how many.</summary>
    private static async Task<int> RelayAsync(Stream source, TextWriter destination)
    {
        using var reader = new StreamReader(source);
        var lines = 0;
        while (await reader.ReadLineAsync() is { } line)
        {
            await destination.WriteLineAsync(line);
            lines++;
        }
        return lines;
    }

    /// <summary>The daemon ended before it was ready: its exit code, after saying so unless it did.</summary>
    private static int Failed(int pid, int said)
    {
        var status = Syscall.waitpid(pid, out var raw, 0) == pid ? ExitStatus.FromWaitStatus(raw) : ExitStatus.Unknown;
        if (said == 0)
            Console.Error.WriteLine($"ufork: the daemon (pid {pid}) {status} before it was ready");
        return status.Code is { } code and not 0 ? code : 1;
    }

    private static bool ConsumeMarker()
    {
        var marked = Environment.GetEnvironmentVariable(Marker) is not null;
        Environment.SetEnvironmentVariable(Marker, null);
        return marked;
    }
}
