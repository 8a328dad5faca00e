using System.Net;
using System.Net.Sockets;
using Xunit;

namespace UFork.Host.Tests.Http;

[Collection(HttpProcesses.Name)]
public sealed class BindErrorTests
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("serve", "-w", "2")]
    [InlineData("run", "-w", "2")]
    public async Task A_port_in_use_is_one_line_and_exit_2_with_nothing_started(params string[] command)
    {
        using var occupant = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        occupant.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        occupant.Listen();
        var port = ((IPEndPoint)occupant.LocalEndPoint!).Port;
        string[] arguments = [.. command, "--bind", $"127.0.0.1:{port}", .. command[0] == "run" ? new[] { "--", "sleep", "60" } : []];

        await using var ufork = ArbiterUnderTest.Start(arguments);

        Assert.Equal(2, await ufork.WaitForExitAsync(Within));
        Assert.Equal([$"ufork: cannot bind 127.0.0.1:{port}: address already in use"], ufork.Stderr);
        Assert.DoesNotContain(ufork.Stdout, line => line.Contains("started pid"));
    }

    [Theory]
    [InlineData("localhost", "ufork: --bind 'localhost': expected HOST:PORT or unix:PATH")]
    [InlineData("127.0.0.1:65536", "ufork: --bind '127.0.0.1:65536': the port must be a number from 0 to 65535")]
    [InlineData("::1:80", "ufork: --bind '::1:80': write an IPv6 address in brackets, e.g. [::1]:8000")]
    [InlineData("unix:", "ufork: --bind 'unix:': a unix socket needs a path, e.g. unix:/run/app.sock")]
    public async Task A_malformed_address_is_one_line_and_exit_2(string address, string error)
    {
        await using var ufork = ArbiterUnderTest.Start("serve", "--bind", address);

        Assert.Equal(2, await ufork.WaitForExitAsync(Within));
        Assert.Equal([error], ufork.Stderr);
    }
}
