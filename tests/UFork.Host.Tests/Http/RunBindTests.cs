using System.Text.RegularExpressions;
using Xunit;

namespace UFork.Host.Tests.Http;

[Collection(HttpProcesses.Name)]
public sealed class RunBindTests
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(30);

    // A worker in another language: the inherited fd 3 is a listening socket, blocking as systemd hands
    // it over, and LISTEN_PID names the worker itself.
    private const string PythonWorker = """
        import os, socket
        assert int(os.environ["LISTEN_PID"]) == os.getpid()
        listener = socket.socket(fileno=3)
        while True:
            connection, _ = listener.accept()
            connection.recv(65536)
            body = ("python pid %d fds %s names %s\n" % (os.getpid(), os.environ["LISTEN_FDS"], os.environ["LISTEN_FDNAMES"])).encode()
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
            connection.close()
        """;

    [Fact]
    public async Task A_python_worker_serves_the_inherited_fd_3()
    {
        await using var ufork = ArbiterUnderTest.Start("run", "-w", "2", "--bind", "127.0.0.1:0", "--", "python3", "-c", PythonWorker);
        var port = await ufork.ListeningPortAsync();
        var workers = await Task.WhenAll(ufork.StartedWorkerAsync(0), ufork.StartedWorkerAsync(1));

        using var cancel = new CancellationTokenSource(Within);
        var answered = new HashSet<int>();
        while (answered.Count < 2)
        {
            var body = await KeepAliveClient.GetOnceAsync(port, "/", cancel.Token);
            var match = Regex.Match(body, $@"^python pid (\d+) fds 1 names 127\.0\.0\.1_{port}\n$");
            Assert.True(match.Success, body);
            answered.Add(int.Parse(match.Groups[1].Value));
        }
        Assert.Equal(workers.ToHashSet(), answered);
    }
}
