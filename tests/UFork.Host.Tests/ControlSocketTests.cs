using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Mono.Unix.Native;
using UFork.Tests.Support;
using Xunit;

namespace UFork.Tests;

/// <summary>The control socket against bad clients: garbage, floods, silence, strangers.</summary>
public sealed class ControlSocketTests
{
    private static readonly TimeSpan Patience = DaemonUnderTest.Patience;

    [Fact]
    public async Task Garbled_oversized_and_silent_clients_get_errors_and_the_others_are_served_meanwhile()
    {
        using var directory = new TempDirectory();
        var socket = directory.File("control.sock");
        await using var ufork = UForkProcess.Start("run", "-w", "1", "--control", socket, "--", "/bin/sh", "-c", "exec sleep 60");
        var worker = Assert.Single(await ufork.WaitForWorkersAsync(1, Patience));
        await ufork.WaitForLineAsync(l => l.EndsWith($"control socket {socket}"), Patience);

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
        string[] nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", "env", "HOME=/tmp"];
        await using var ufork = UForkProcess.Start("run", "-w", "1", "--control", socket, "--", "/bin/sh", "-c", "exec sleep 60");
        await ufork.WaitForWorkersAsync(1, Patience);
        await ufork.WaitForLineAsync(l => l.EndsWith($"control socket {socket}"), Patience);

        var keptOut = await CtlResult.RunAsync(["ctl", "--control", socket, "status"], nobody);
        File.SetUnixFileMode(socket, (UnixFileMode)0b110_110_110);
        var refused = await CtlResult.RunAsync(["ctl", "--control", socket, "status"], nobody);
        var logged = await ufork.WaitForLineAsync(l => l.Contains("refused pid"), Patience);
        var owner = await CtlResult.RunAsync(["ctl", "--control", socket, "status"]);

        Assert.Equal(new CtlResult(1, "", $"ufork: cannot connect to {socket}: permission denied (the socket is for the arbiter's user)"), keptOut);
        Assert.Equal(new CtlResult(1, "", "ufork: refused: uid 65534 may not steer this arbiter (only root may)"), refused);
        Assert.Matches($@"^\[ufork\] warning: control socket {socket}: refused pid \d+ of uid 65534$", logged);
        Assert.Equal(0, owner.Exit);
        ufork.Signal(Signum.SIGTERM);
        Assert.Equal(0, await ufork.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task Ctl_says_in_one_line_when_no_arbiter_listens()
    {
        var result = await CtlResult.RunAsync(["ctl", "--control", "/nonexistent/ufork.sock", "status"]);

        Assert.Equal(new CtlResult(1, "", "ufork: no arbiter listens on /nonexistent/ufork.sock: there is no such socket"), result);
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
