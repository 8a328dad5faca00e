using Mono.Unix.Native;
using UFork.Spawning;

namespace UFork.Prompt;

/// <summary>
/// The keys typed at the terminal, one at a time through Console.ReadKey, until <see cref="Close"/>.
/// A reader waits in poll(2) on stdin and a wake-up pipe rather than inside ReadKey, so that closing
/// leaves nothing reading stdin: in a REPL the next key belongs to the REPL.
/// </summary>
internal sealed unsafe class TerminalKeys : IDisposable
{
    private const int StdinFd = 0;
    private readonly (int Read, int Write) _wakeup = Libc.Pipe();
    private volatile bool _closed;

    public bool IsClosed => _closed;

    /// <summary>The next key, or null once closed or once the terminal has hung up.</summary>
    public ConsoleKeyInfo? Next()
    {
        while (!_closed)
        {
            try
            {
                // KeyAvailable also sees keys .NET has already read and buffered (an escape sequence, a
                // paste), which poll(2) on the descriptor cannot.
                if (Console.KeyAvailable)
                    return Console.ReadKey(intercept: true);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
                return null;
            }
            var fds = new[]
            {
                new Pollfd { fd = StdinFd, events = PollEvents.POLLIN },
                new Pollfd { fd = _wakeup.Read, events = PollEvents.POLLIN },
            };
            if (Syscall.poll(fds, -1) < 0)
                continue; // EINTR
            var hungUp = (fds[0].revents & (PollEvents.POLLHUP | PollEvents.POLLERR | PollEvents.POLLNVAL)) != 0;
            if (hungUp && (fds[0].revents & PollEvents.POLLIN) == 0)
                return null;
        }
        return null;
    }

    /// <summary>Wakes a waiting <see cref="Next"/>, which returns null from now on.</summary>
    public void Close()
    {
        _closed = true;
        byte wake = 1;
        Libc.write(_wakeup.Write, &wake, 1);
    }

    /// <summary>Only once no thread is in <see cref="Next"/>: the descriptors are closed.</summary>
    public void Dispose()
    {
        Libc.close(_wakeup.Read);
        Libc.close(_wakeup.Write);
    }
}
