using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Mono.Unix.Native;
using UFork.Control;
using UFork.Hosting;
using UFork.Tests.Support;
using Xunit;

namespace UFork.Tests;

/// <summary>The control socket against bad clients, impostor servers, races, and where it is by default.</summary>
public sealed class ControlSocketTests
{
    private static readonly TimeSpan Patience = DaemonUnderTest.Patience;
    private static readonly string[] Sleeper = ["--", "/bin/sh", "-c", "exec sleep 60"];
    private const uint NobodyUid = 65534;
    // Running a process as another uid needs root, as the tests do.
    private static readonly string[] Nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", "env", "HOME=/tmp", "XDG_RUNTIME_DIR="];

    [Fact]
    public async Task Garbled_oversized_and_silent_clients_get_errors_and_the_others_are_served_meanwhile()
    {
        using var directory = new TempDirectory();
        var socket = directory.File("control.sock");
        await using var ufork = UForkProcess.Start("run", "-w", "1", "--control", socket, "--", "/bin/sh", "-c", "exec sleep 60");
        var worker = Assert.Single(await ufork.WaitForWorkersAsync(1, Patience));
        await ufork.WaitForLineAsync(l => l.EndsWith($"control socket {socket}"), Patience);
        await ufork.WaitForLineAsync(l => l.Contains($"pid {worker} is ready"), Patience);

        using var silent = await ConnectAsync(socket);
        var clock = Stopwatch.StartNew();
        var oversized = await AskAsync(socket, Encoding.ASCII.GetBytes(new string('a', 5000)));
        var notText = await AskAsync(socket, [0xff, 0xfe, (byte)'\n']);
        var unknown = await AskAsync(socket, "frobnicate\n"u8.ToArray());
        var status = await AskAsync(socket, "json status\n"u8.ToArray());
        var othersServedIn = clock.Elapsed;
        var silentAnswer = await ReadToEndAsync(silent);

        Assert.Equal("error\nrequest longer than 4096 bytes\n", oversized);
        Assert.Equal("error\nrequest is not UTF-8 text\n", notText);
        Assert.Equal("error\nunknown command 'frobnicate'; try help\n", unknown);
        Assert.StartsWith($"ok\n[{{\"slot\":0,\"pid\":{worker},\"state\":\"ready\"", status);
        Assert.True(othersServedIn < TimeSpan.FromSeconds(1.5), $"the others waited {othersServedIn} behind a silent client");
        Assert.Equal("error\nno request line within 2 s\n", silentAnswer);
        Assert.Equal(new CtlResult(0, "stopped", ""), await CtlResult.RunAsync(["ctl", "--control", socket, "stop"]));
        Assert.Equal(0, await ufork.WaitForExitAsync(Patience));
        Assert.False(File.Exists(socket));
    }

    /// <summary>
    /// Mode 0600 already keeps other users out at connect(2), which the first ctl shows. To reach the
    /// arbiter's own check (SO_PEERCRED), the test then opens the socket's mode up, as a careless chmod
    /// would: the arbiter still refuses the stranger, names it in its log, and serves its own user.
    /// Running a client as another uid needs root (setpriv).
    /// </summary>
    [Fact]
    public async Task A_client_of_another_uid_is_refused()
    {
        Assert.True(Syscall.getuid() == 0, "this test runs a client as uid 65534 through setpriv, which needs root");
        using var directory = new TempDirectory();
        File.SetUnixFileMode(directory.Path, (UnixFileMode)0b111_101_101); // others may enter, as in /tmp
        var socket = directory.File("control.sock");
        await using var ufork = UForkProcess.Start("run", "-w", "1", "--control", socket, "--", "/bin/sh", "-c", "exec sleep 60");
        await ufork.WaitForWorkersAsync(1, Patience);
        await ufork.WaitForLineAsync(l => l.EndsWith($"control socket {socket}"), Patience);

        var keptOut = await CtlResult.RunAsync(["ctl", "--control", socket, "status"], Nobody);
        File.SetUnixFileMode(socket, (UnixFileMode)0b110_110_110);
        var refused = await CtlResult.RunAsync(["ctl", "--control", socket, "status"], Nobody);
        var logged = await ufork.WaitForLineAsync(l => l.Contains("refused pid"), Patience);
        var owner = await CtlResult.RunAsync(["ctl", "--control", socket, "status"]);

        Assert.Equal(new CtlResult(1, "", $"ufork: cannot connect to {socket}: permission denied (the socket is for the arbiter's user)"), keptOut);
        Assert.Equal(new CtlResult(1, "", "ufork: refused: uid 65534 may not steer this arbiter (only root may)"), refused);
        Assert.Matches($@"^\[ufork\] warning: control socket {socket}: refused pid \d+ of uid 65534$", logged);
        Assert.Equal(0, owner.Exit);
        ufork.Signal(Signum.SIGTERM);
        Assert.Equal(0, await ufork.WaitForExitAsync(Patience));
    }

    /// <summary>
    /// Whoever can make the socket's path first can serve it; ctl must not tell such an impostor its
    /// command nor believe its answer. Here it is a real arbiter of uid 65534, which would obey.
    /// </summary>
    [Fact]
    public async Task Ctl_refuses_a_socket_served_by_another_uid_and_sends_it_nothing()
    {
        Assert.True(Syscall.getuid() == 0, "this test runs the impostor as uid 65534 through setpriv, which needs root");
        using var directory = new TempDirectory();
        Assert.Equal(0, Syscall.chown(directory.Path, NobodyUid, NobodyUid));
        var socket = directory.File("control.sock");
        await using var impostor = UForkProcess.StartVia(Nobody, ["run", "-w", "1", "--control", socket, .. Sleeper]);
        var worker = Assert.Single(await impostor.WaitForWorkersAsync(1, Patience));
        await impostor.WaitForLineAsync(l => l.EndsWith($"control socket {socket}"), Patience);

        var stop = await CtlResult.RunAsync(["ctl", "--control", socket, "stop"]);

        Assert.Equal(new CtlResult(1, "", $"ufork: refused: the socket {socket} is served by uid 65534, not by root"), stop);
        Assert.True(ProcessWatch.IsRunning(worker), "the impostor obeyed the stop");
        impostor.Signal(Signum.SIGTERM);
        Assert.Equal(0, await impostor.WaitForExitAsync(Patience));
    }

    /// <summary>
    /// Two arbiters started together after a crash both find the dead one's socket file; without the
    /// lock, one could delete the socket the other has just bound, and both would run.
    /// </summary>
    [Fact]
    public async Task Of_many_binds_at_once_on_a_stale_socket_exactly_one_listens_every_time()
    {
        const int rounds = 20;
        const int binders = 8;
        using var directory = new TempDirectory();
        var socket = directory.File("control.sock");
        for (var round = 0; round < rounds; round++)
        {
            using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
                dead.Bind(new UnixDomainSocketEndPoint(socket)); // a socket file nobody listens on
            using var start = new Barrier(binders);
            var outcomes = Enumerable.Range(0, binders)
                .Select(_ => Task.Factory.StartNew(() =>
                {
                    start.SignalAndWait();
                    try
                    {
                        return (Bound: ControlServer.Bind(socket), Refusal: (string?)null);
                    }
                    catch (ArbiterStartException e)
                    {
                        return (Bound: (ControlServer?)null, Refusal: e.Message);
                    }
                }, TaskCreationOptions.LongRunning))
                .ToList()
                .Select(bind => bind.Result)
                .ToList();
            var winners = outcomes.Select(o => o.Bound).OfType<ControlServer>().ToList();
            var served = winners.Count == 1 && await AnswersAsync(socket);
            foreach (var winner in winners)
                await winner.DisposeAsync();

            Assert.True(winners.Count == 1, $"round {round}: {winners.Count} binds won");
            Assert.True(served, $"round {round}: the winner does not listen on {socket}");
            Assert.All(outcomes.Select(o => o.Refusal).OfType<string>(),
                refusal => Assert.Matches($@"^already running( as pid \d+)? \(control socket {socket}( is locked)?\)$", refusal));
            Assert.Empty(Directory.GetFileSystemEntries(directory.Path));
        }
    }

    [Fact]
    public async Task A_daemon_without_pidfile_or_control_listens_in_a_private_directory_it_makes()
    {
        using var runtime = new TempDirectory();
        var environment = new Dictionary<string, string> { ["XDG_RUNTIME_DIR"] = runtime.Path };
        var privateDirectory = runtime.File("ufork");
        var socket = Path.Combine(privateDirectory, "control.sock");

        var pid = await StartDaemonAsync(runtime, environment);
        try
        {
            Assert.True(Syscall.lstat(privateDirectory, out var stat) == 0);
            var status = await CtlResult.RunAsync(["ctl", "status"], environment: environment);
            var stop = await CtlResult.RunAsync(["ctl", "stop"], environment: environment);
            await ProcessWatch.AssertAllDeadAsync([pid], Patience);

            Assert.Equal(FilePermissions.S_IFDIR | FilePermissions.S_IRWXU, stat.st_mode & (FilePermissions.S_IFMT | FilePermissions.ALLPERMS));
            Assert.Equal(Syscall.geteuid(), stat.st_uid);
            Assert.Equal(0, status.Exit);
            Assert.Matches(@"^w0\s+\d+\s+ready", status.Stdout.Split('\n')[1]);
            Assert.Equal(new CtlResult(0, "stopped", ""), stop);
            Assert.Empty(Directory.GetFileSystemEntries(privateDirectory)); // neither the socket nor its lock is left
            Assert.Contains(LogLines.Read(runtime.File("ufork.log")), l => l.EndsWith($"control socket {socket}"));
        }
        finally
        {
            // Only if it failed to stop: the daemon and its worker are not this process's children.
            var workers = LogLines.Read(runtime.File("ufork.log"))
                .Select(l => System.Text.RegularExpressions.Regex.Match(l, @"^\[ufork\] w\d+: started pid (\d+)$"))
                .Where(m => m.Success)
                .Select(m => int.Parse(m.Groups[1].Value))
                .ToList();
            foreach (var left in workers.Append(pid).Where(ProcessWatch.IsRunning))
                Syscall.kill(left, Signum.SIGKILL);
            await ProcessWatch.AssertAllDeadAsync(workers.Append(pid), TimeSpan.FromSeconds(5));
        }
    }

    /// <summary>The default socket's directory must be the user's alone, or the socket in it is anyone's.</summary>
    [Theory]
    [InlineData("open", "is open to others (mode 755; it must be 700)")]
    [InlineData("symlink", "is not a directory (a symbolic link?)")]
    [InlineData("foreign", "is owned by uid 65534, not by uid 0")]
    public async Task A_default_directory_not_private_to_the_user_is_refused_in_one_line(string kind, string problem)
    {
        Assert.True(Syscall.getuid() == 0, "this test gives a directory to uid 65534, which needs root");
        using var runtime = new TempDirectory();
        var privateDirectory = runtime.File("ufork");
        switch (kind)
        {
            case "open":
                Directory.CreateDirectory(privateDirectory, (UnixFileMode)0b111_101_101);
                break;
            case "symlink":
                Directory.CreateDirectory(runtime.File("elsewhere"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                Directory.CreateSymbolicLink(privateDirectory, runtime.File("elsewhere"));
                break;
            case "foreign":
                Directory.CreateDirectory(privateDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                Assert.Equal(0, Syscall.chown(privateDirectory, NobodyUid, NobodyUid));
                break;
        }

        await using var daemon = UForkProcess.StartDotnet(UForkProcess.UForkDll,
            ["run", "--daemon", "--log-file", runtime.File("ufork.log"), "-w", "1", .. Sleeper],
            new Dictionary<string, string> { ["XDG_RUNTIME_DIR"] = runtime.Path });
        var exit = await daemon.WaitForExitAsync(Patience);
        foreach (var started in daemon.Stdout.Select(l => int.TryParse(l, out var pid) ? pid : 0).Where(pid => pid > 0))
            Syscall.kill(started, Signum.SIGKILL); // it should not have started; if it did, it must not outlive the test

        Assert.Equal(2, exit);
        Assert.Equal([$"ufork: refusing control socket directory {privateDirectory}: it {problem}"], daemon.Stderr);
        Assert.Empty(Directory.GetFileSystemEntries(kind == "symlink" ? runtime.File("elsewhere") : privateDirectory));
    }

    /// <summary>Without $XDG_RUNTIME_DIR: root's default is under /run, another user's under /tmp (it may not write /run).</summary>
    [Fact]
    public async Task Ctl_looks_for_the_default_socket_in_run_as_root_and_in_tmp_otherwise()
    {
        Assert.True(Syscall.getuid() == 0, "this test runs ctl as uid 65534 through setpriv, which needs root");

        var root = await CtlResult.RunAsync(["ctl", "status"], environment: new Dictionary<string, string> { ["XDG_RUNTIME_DIR"] = "" });
        var nobody = await CtlResult.RunAsync(["ctl", "status"], Nobody);

        Assert.Equal(new CtlResult(1, "", "ufork: no arbiter listens on /run/ufork-0/control.sock: there is no such socket"), root);
        Assert.Equal(new CtlResult(1, "", "ufork: no arbiter listens on /tmp/ufork-65534/control.sock: there is no such socket"), nobody);
    }

    [Fact]
    public async Task Ctl_says_in_one_line_when_no_arbiter_listens()
    {
        var result = await CtlResult.RunAsync(["ctl", "--control", "/nonexistent/ufork.sock", "status"]);

        Assert.Equal(new CtlResult(1, "", "ufork: no arbiter listens on /nonexistent/ufork.sock: there is no such socket"), result);
    }

    /// <summary>Starts <c>ufork run --daemon</c> with its log in <paramref name="directory"/>; returns the daemon's pid.</summary>
    private static async Task<int> StartDaemonAsync(TempDirectory directory, IDictionary<string, string> environment)
    {
        await using var parent = UForkProcess.StartDotnet(UForkProcess.UForkDll,
            ["run", "--daemon", "--log-file", directory.File("ufork.log"), "-w", "1", .. Sleeper], environment);
        var exit = await parent.WaitForExitAsync(Patience);
        var printed = parent.Stdout.Select(l => int.TryParse(l, out var pid) ? pid : 0).Where(pid => pid > 0).ToList();
        Assert.True(exit == 0 && printed.Count == 1,
            $"ufork run --daemon exited {exit}; stdout: {string.Join('|', parent.Stdout)}; stderr: {string.Join('|', parent.Stderr)}");
        return printed[0];
    }

    private static async Task<bool> AnswersAsync(string path)
    {
        try
        {
            using var socket = await ConnectAsync(path);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static async Task<Socket> ConnectAsync(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
        return socket;
    }

    private static async Task<string> AskAsync(string path, byte[] request)
    {
        using var socket = await ConnectAsync(path);
        await socket.SendAsync(request);
        return await ReadToEndAsync(socket);
    }

    private static async Task<string> ReadToEndAsync(Socket socket)
    {
        await using var stream = new NetworkStream(socket);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync().WaitAsync(Patience);
    }
}
