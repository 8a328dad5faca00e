using System.Text.RegularExpressions;
using Mono.Unix.Native;
using Xunit;

namespace UFork.Tests.Support;

/// <summary>
/// <c>ufork run --daemon</c> with its pidfile, control socket and log file in a directory of its own.
/// It remembers the daemon's pid (printed by the parent, checked against the pidfile) and every worker
/// pid its log names; on dispose it kills the daemon if it is still there and fails if any of those
/// processes survived.
/// </summary>
public sealed partial class DaemonUnderTest : IAsyncDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private DaemonUnderTest(string directory, int pid)
    {
        Directory = directory;
        Pid = pid;
    }

    public string Directory { get; }
    public int Pid { get; }
    public string PidFile => PidFileIn(Directory);
    public string ControlSocket => PidFile + ".sock";
    public string LogFile => LogFileIn(Directory);

    public static string PidFileIn(string directory) => Path.Combine(directory, "ufork.pid");
    public static string LogFileIn(string directory) => Path.Combine(directory, "ufork.log");

    /// <summary>A fresh directory for a daemon's files.</summary>
    public static string NewDirectory() => System.IO.Directory.CreateTempSubdirectory("ufork-daemon-").FullName;

    /// <summary>Starts <c>ufork run --daemon</c> with these arguments (options, then <c>-- command</c>); fails unless it reports ready.</summary>
    public static async Task<DaemonUnderTest> StartAsync(string[] arguments, string? directory = null)
    {
        directory ??= NewDirectory();
        await using var parent = UForkProcess.Start(
            ["run", "--daemon", "--pidfile", PidFileIn(directory), "--log-file", LogFileIn(directory), .. arguments]);
        var exit = await parent.WaitForExitAsync(Patience);
        var printed = parent.Stdout.Select(l => int.TryParse(l, out var pid) ? pid : (int?)null).OfType<int>().ToList();
        if (exit != 0 || printed.Count != 1)
            throw new Xunit.Sdk.XunitException(
                $"ufork run --daemon exited {exit}; stdout: {string.Join('|', parent.Stdout)}; stderr: {string.Join('|', parent.Stderr)}");
        var daemon = new DaemonUnderTest(directory, printed[0]);
        Assert.Equal($"{daemon.Pid}\n", await File.ReadAllTextAsync(daemon.PidFile));
        return daemon;
    }

    /// <summary>Runs <c>ufork ctl --pidfile PIDFILE</c> with these arguments.</summary>
    public Task<CtlResult> CtlAsync(params string[] arguments) => CtlResult.RunAsync(["ctl", "--pidfile", PidFile, .. arguments]);

    public void Signal(Signum signal) => Syscall.kill(Pid, signal);

    /// <summary>Every line of every log file in the directory (rotated, moved away or current), oldest file first, without their times.</summary>
    public IReadOnlyList<string> LogLines() =>
        System.IO.Directory.GetFiles(Directory, "ufork.log*")
            .OrderBy(File.GetLastWriteTimeUtc)
            .SelectMany(UFork.Tests.Support.LogLines.Read)
            .ToList();

    public Task<string?> WaitForLogLineAsync(Func<string, bool> match) =>
        Eventually.WaitAsync(() => LogLines().FirstOrDefault(match), line => line is not null, Patience);

    /// <summary>Waits for the daemon to exit (it is not this process's child, so /proc is the only witness).</summary>
    public async Task AssertExitsAsync(TimeSpan within) => await ProcessWatch.AssertAllDeadAsync([Pid], within);

    public IReadOnlyList<int> WorkerPids() =>
        LogLines().Select(l => StartedPid().Match(l)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value)).ToList();

    public async ValueTask DisposeAsync()
    {
        if (ProcessWatch.IsRunning(Pid))
            Syscall.kill(Pid, Signum.SIGKILL);
        await ProcessWatch.AssertAllDeadAsync(WorkerPids().Append(Pid), TimeSpan.FromSeconds(5));
        System.IO.Directory.Delete(Directory, recursive: true);
    }

    [GeneratedRegex(@"^\[ufork\] w\d+: started pid (\d+)$")]
    private static partial Regex StartedPid();
}
