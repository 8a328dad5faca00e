using System.Diagnostics;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Mono.Unix.Native;
using UFork.Configuration;
using Xunit;

namespace UFork.Host.Tests.Http;

[Collection(HttpProcesses.Name)]
public sealed class ServeTests
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Requests_are_answered_by_every_worker_sharing_the_socket()
    {
        await using var ufork = ArbiterUnderTest.Start("serve", "-w", "2", "--bind", "127.0.0.1:0");
        var port = await ufork.ListeningPortAsync();

        var pids = await HelloWorld.UntilWorkersAnswerAsync(port, 2, Within);

        var started = await Task.WhenAll(ufork.StartedWorkerAsync(0), ufork.StartedWorkerAsync(1));
        Assert.Equal(started.ToHashSet(), pids);
        await ufork.WaitForLineAsync(new Regex(@"^\[w[01] \d+\] 127\.0\.0\.1 ""GET / HTTP/1\.1"" 200 [\d.]+ms$"), Within);
        using var cancel = new CancellationTokenSource(Within);
        var blocking = await KeepAliveClient.GetOnceAsync(port, "/sleep?ms=5", cancel.Token);
        Assert.Matches(@"^slept 5 ms on a blocking thread in worker [01] \(pid \d+\)\n$", blocking);
    }

    [Fact]
    public async Task A_worker_that_stops_gracefully_leaves_the_shared_socket_as_it_was()
    {
        await using var ufork = ArbiterUnderTest.Start("serve", "-w", "2", "--bind", "127.0.0.1:0", "--no-access-log");
        var port = await ufork.ListeningPortAsync();
        var pids = (await HelloWorld.UntilWorkersAnswerAsync(port, 2, Within)).ToList();
        var (stopped, survivor) = (pids[0], pids[1]);
        Assert.Equal(UForkSettings.Default.Backlog, SharedSocketInspector.Backlog(survivor));

        // Kestrel cancels its pending accept as it stops; on a socket it owned, .NET would then set
        // SO_LINGER {1,0}, and every worker's connections would end with a reset from then on.
        Syscall.kill(stopped, Signum.SIGTERM);
        var replacement = await ufork.StartedWorkerAsync(ufork.SlotOf(stopped), stopped);

        Assert.False(SharedSocketInspector.LingerIsOn(survivor));
        Assert.Equal(UForkSettings.Default.Backlog, SharedSocketInspector.Backlog(replacement));
        using var cancel = new CancellationTokenSource(Within);
        for (var i = 0; i < 10; i++)
        {
            using var client = await KeepAliveClient.ConnectAsync(port, cancel.Token);
            HelloWorld.PidIn(await client.GetAsync("/", cancel.Token, close: true));
            Assert.True(await client.ClosesCleanlyAsync(cancel.Token), "the server reset a connection instead of closing it");
        }
    }

    [Fact]
    public async Task Sigterm_lets_a_slow_request_in_flight_finish_within_the_grace_period()
    {
        var grace = TimeSpan.FromSeconds(5);
        var config = Path.GetTempFileName();
        await File.WriteAllTextAsync(config, $"ufork.shutdown.grace = {grace.TotalSeconds}s\n");
        try
        {
            await using var ufork = ArbiterUnderTest.Start("serve", "-w", "2", "--bind", "127.0.0.1:0", "--config", config);
            var port = await ufork.ListeningPortAsync();
            using var client = new HttpClient { Timeout = Within };
            using var response = await client.GetAsync($"http://127.0.0.1:{port}/slow?ms=1500", HttpCompletionOption.ResponseHeadersRead);
            using var body = new StreamReader(await response.Content.ReadAsStreamAsync());
            Assert.Equal("sleeping 1500 ms", await body.ReadLineAsync()); // the request is in the handler now

            var stopping = Stopwatch.StartNew();
            ufork.Signal(Signum.SIGTERM);

            Assert.Matches(@"^done after 1500 ms in worker [01] \(pid \d+\)$", await body.ReadLineAsync());
            Assert.Equal(0, await ufork.WaitForExitAsync(grace + TimeSpan.FromSeconds(5)));
            Assert.True(stopping.Elapsed < grace, $"stopping took {stopping.Elapsed.TotalSeconds:0.00} s, past the grace period");
            Assert.DoesNotContain(ufork.Stdout, line => line.Contains("SIGKILL"));
            Assert.Contains(ufork.Stdout, line => Regex.IsMatch(line, @"\] 127\.0\.0\.1 ""GET /slow\?ms=1500 HTTP/1\.1"" 200 "));
        }
        finally
        {
            File.Delete(config);
        }
    }

    [Fact]
    public async Task A_unix_socket_left_by_a_dead_server_is_replaced_and_removed_on_exit()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ufork-test-{Guid.NewGuid():N}.sock");
        using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            dead.Bind(new UnixDomainSocketEndPoint(path)); // the file stays, with nobody listening
        try
        {
            await using (var ufork = ArbiterUnderTest.Start("serve", "-w", "1", "--bind", $"unix:{path}"))
            {
                await ufork.WaitForLineAsync(new Regex($@"^\[ufork\] listening on unix:{Regex.Escape(path)} "), Within);
                using var cancel = new CancellationTokenSource(Within);
                using var client = await KeepAliveClient.ConnectAsync(new UnixDomainSocketEndPoint(path), cancel.Token);
                Assert.Equal(await ufork.StartedWorkerAsync(0), HelloWorld.PidIn(await client.GetAsync("/", cancel.Token)));
            }
            Assert.False(File.Exists(path), "the arbiter left its unix socket behind");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
