using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using UFork.Tests.Support;
using Xunit;

namespace UFork.Tests;

/// <summary><c>ufork run --daemon</c>, its pidfile and <c>ufork ctl</c>, end to end.</summary>
public sealed class DaemonTests
{
    private static readonly TimeSpan Patience = DaemonUnderTest.Patience;
    private static readonly string[] Sleepers = ["--", "/bin/sh", "-c", "echo up $UFORK_WORKER_ID; exec sleep 60"];

    [Fact]
    public async Task A_daemon_starts_answers_ctl_and_stops_removing_its_pidfile_and_socket()
    {
        await using var daemon = await DaemonUnderTest.StartAsync(["-w", "2", .. Sleepers]);
        var socketMode = File.GetUnixFileMode(daemon.ControlSocket);

        // The parent returned once both workers had started, so status finds them at once.
        var status = await daemon.CtlAsync("status");
        var json = await daemon.CtlAsync("--json", "status");
        var stop = await daemon.CtlAsync("stop");
        await daemon.AssertExitsAsync(Patience);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, socketMode);
        Assert.Equal(0, status.Exit);
        var rows = status.Stdout.Split('\n');
        Assert.StartsWith("SLOT  PID", rows[0]);
        Assert.Matches(@"^w0\s+\d+\s+ready", rows[1]);
        Assert.Matches(@"^w1\s+\d+\s+ready", rows[2]);
        var pids = JsonDocument.Parse(json.Stdout).RootElement.EnumerateArray().Select(w => w.GetProperty("pid").GetInt32());
        Assert.Equal(daemon.WorkerPids().Order(), pids.Order());
        Assert.Equal(new CtlResult(0, "stopped", ""), stop);
        Assert.False(File.Exists(daemon.PidFile));
        Assert.False(File.Exists(daemon.ControlSocket));
        var log = daemon.LogLines();
        Assert.Contains(log, l => Regex.IsMatch(l, @"^\[w1 \d+\] up 1$"));
        Assert.Equal("[ufork] all workers stopped", log[^1]);
    }

    [Fact]
    public async Task A_second_start_is_refused_while_the_first_runs_and_the_first_is_undisturbed()
    {
        await using var daemon = await DaemonUnderTest.StartAsync(["-w", "1", .. Sleepers]);
        var workers = daemon.WorkerPids();
        var refusal = $"ufork: already running as pid {daemon.Pid} (pidfile {daemon.PidFile})";

        // The refused daemon is reaped by its parent before the parent exits: nothing of it is left.
        await using var second = UForkProcess.Start(
            ["run", "--daemon", "--pidfile", daemon.PidFile, "--log-file", Path.Combine(daemon.Directory, "second.log"), "-w", "1", .. Sleepers]);
        await using var foreground = UForkProcess.Start(["run", "--pidfile", daemon.PidFile, "-w", "1", .. Sleepers]);

        Assert.Equal(2, await second.WaitForExitAsync(Patience));
        Assert.Equal([refusal], second.Stderr);
        Assert.Empty(second.Stdout);
        Assert.Equal(2, await foreground.WaitForExitAsync(Patience));
        Assert.Equal([refusal], foreground.Stderr);
        Assert.Empty(foreground.Stdout);
        Assert.Equal($"{daemon.Pid}\n", await File.ReadAllTextAsync(daemon.PidFile));
        var status = await daemon.CtlAsync("--json", "status");
        Assert.Equal(workers, JsonDocument.Parse(status.Stdout).RootElement.EnumerateArray().Select(w => w.GetProperty("pid").GetInt32()));
    }

    [Theory]
    [InlineData("directory", "is a directory")]
    [InlineData("file", "holds something other than a pid; refusing to overwrite it")]
    public async Task A_pidfile_path_holding_something_else_is_refused_in_one_line_and_kept(string kind, string problem)
    {
        using var directory = new TempDirectory();
        var pidFile = directory.File("app.pid");
        if (kind == "directory")
            Directory.CreateDirectory(pidFile);
        else
            await File.WriteAllTextAsync(pidFile, "server {\n  listen 80;\n}\n");

        await using var ufork = UForkProcess.Start(["run", "--pidfile", pidFile, "-w", "1", .. Sleepers]);

        Assert.Equal(2, await ufork.WaitForExitAsync(Patience));
        Assert.Equal([$"ufork: pidfile {pidFile} {problem}"], ufork.Stderr);
        Assert.Empty(ufork.Stdout);
        if (kind == "directory")
            Assert.True(Directory.Exists(pidFile));
        else
            Assert.Equal("server {\n  listen 80;\n}\n", await File.ReadAllTextAsync(pidFile));
    }

    /// <summary>After a crash, a supervisor may start arbiters again in a hurry: the dead one's files must let exactly one in.</summary>
    [Fact]
    public async Task Of_arbiters_started_at_once_on_a_dead_ones_pidfile_exactly_one_runs()
    {
        const int starts = 4;
        using var directory = new TempDirectory();
        var pidFile = directory.File("app.pid");
        using (var gone = Process.Start("/bin/true"))
        {
            await gone.WaitForExitAsync();
            await File.WriteAllTextAsync(pidFile, $"{gone.Id}\n");
        }
        using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            dead.Bind(new UnixDomainSocketEndPoint(pidFile + ".sock"));
        var arbiters = Enumerable.Range(0, starts).Select(_ => UForkProcess.Start(["run", "--pidfile", pidFile, "-w", "1", .. Sleepers])).ToList();
        try
        {
            // Each either refuses and exits, or says it runs.
            await Task.WhenAll(arbiters.Select(a => Task.WhenAny(
                a.WaitForExitAsync(Patience),
                a.WaitForLineAsync(l => l.StartsWith("[ufork] arbiter pid "), Patience))));
            var running = arbiters.Where(a => !a.Stderr.Any(l => l.StartsWith("ufork: already running"))).ToList();

            var winner = Assert.Single(running);
            Assert.Equal($"{winner.Pid}\n", await File.ReadAllTextAsync(pidFile));
            foreach (var loser in arbiters.Except(running))
            {
                Assert.Equal(2, await loser.WaitForExitAsync(Patience));
                Assert.Matches($@"^ufork: already running as pid \d+ \(pidfile {Regex.Escape(pidFile)}\)$", Assert.Single(loser.Stderr));
            }
            winner.Signal(Mono.Unix.Native.Signum.SIGTERM);
            Assert.Equal(0, await winner.WaitForExitAsync(Patience));
            Assert.Empty(Directory.GetFileSystemEntries(directory.Path));
        }
        finally
        {
            foreach (var arbiter in arbiters)
                await arbiter.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_stale_pidfile_and_control_socket_are_taken_over()
    {
        var directory = DaemonUnderTest.NewDirectory();
        using (var gone = Process.Start("/bin/true"))
        {
            await gone.WaitForExitAsync();
            await File.WriteAllTextAsync(DaemonUnderTest.PidFileIn(directory), $"{gone.Id}\n");
        }
        using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            dead.Bind(new UnixDomainSocketEndPoint(DaemonUnderTest.PidFileIn(directory) + ".sock")); // a socket file nobody listens on

        await using var daemon = await DaemonUnderTest.StartAsync(["-w", "1", .. Sleepers], directory);
        var status = await daemon.CtlAsync("status");

        Assert.Equal(0, status.Exit);
        Assert.Matches(@"^w0\s+\d+\s+ready", status.Stdout.Split('\n')[1]);
    }
}
