using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace UFork.Tests.Support;

/// <summary>
/// A command run on a real pseudo-terminal through util-linux script(1), as a person at a terminal runs
/// it: what a test types arrives as key presses (Ctrl-C becomes SIGINT if the terminal says so), and
/// what the program draws comes back, readable as plain text with the escape sequences taken out. It
/// remembers every process started under it; on dispose it kills what is left and fails if any survived.
/// </summary>
public sealed partial class PseudoTerminal : IAsyncDisposable
{
    public const string Enter = "\r";
    public const string CtrlC = "\x03";
    public const string CtrlD = "\x04";
    public const string Left = "\eOD";
    public const string Backspace = "\x7f";

    private readonly Process _script;
    private readonly StringBuilder _output = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Seen)> _waiters = [];
    private readonly HashSet<int> _pids = [];
    private readonly Lock _lock = new();
    private readonly Task _reading;

    private PseudoTerminal(string shellCommand)
    {
        var start = new ProcessStartInfo("script")
        {
            ArgumentList = { "--quiet", "--flush", "--return", "--command", shellCommand, "/dev/null" },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["TERM"] = "xterm";
        _script = Process.Start(start) ?? throw new InvalidOperationException("could not start script(1)");
        _reading = ReadAsync();
    }

    /// <summary>Runs a shell command line on a new pseudo-terminal.</summary>
    public static PseudoTerminal Start(string shellCommand) => new(shellCommand);

    /// <summary>A shell command line that starts a .NET program beside the tests (ufork.dll, ...) with these arguments.</summary>
    public static string Dotnet(string dll, params string[] arguments) =>
        string.Join(' ', new[] { "dotnet", Path.Combine(AppContext.BaseDirectory, dll) }.Concat(arguments).Select(Quote));

    /// <summary>Everything shown so far, as text: escape sequences and carriage returns removed.</summary>
    public string Screen
    {
        get { lock (_lock) return Plain(_output.ToString()); }
    }

    /// <summary>The process script(1) started on the terminal: with <c>exec</c> in the command, the program itself.</summary>
    public int ChildPid => Children(_script.Id).FirstOrDefault();

    public async Task TypeAsync(string keys)
    {
        await _script.StandardInput.WriteAsync(keys);
        await _script.StandardInput.FlushAsync();
    }

    /// <summary>The screen, once it matches; a TimeoutException showing the screen if it does not in time.</summary>
    public async Task<string> WaitForAsync(Func<string, bool> match, TimeSpan within)
    {
        Task<string> seen;
        lock (_lock)
        {
            var screen = Plain(_output.ToString());
            if (match(screen))
                return screen;
            var waiter = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((match, waiter));
            seen = waiter.Task;
        }
        try
        {
            return await seen.WaitAsync(within);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"the terminal did not show what was expected within {within}; it shows:\n{Screen}");
        }
    }

    /// <summary>Waits until the screen, from <paramref name="from"/> on, matches the regular expression.</summary>
    public Task<string> WaitForAsync(string pattern, TimeSpan within, int from = 0) =>
        WaitForAsync(screen => Regex.IsMatch(screen[Math.Min(from, screen.Length)..], pattern), within);

    /// <summary>The exit code of the command (script --return passes it on).</summary>
    public async Task<int> WaitForExitAsync(TimeSpan within)
    {
        await _script.WaitForExitAsync().WaitAsync(within);
        await _reading.WaitAsync(within);
        return _script.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        TrackDescendants();
        if (!_script.HasExited)
        {
            int[] left;
            lock (_lock)
                left = _pids.ToArray();
            foreach (var pid in left)
                Mono.Unix.Native.Syscall.kill(pid, Mono.Unix.Native.Signum.SIGKILL);
            _script.Kill(entireProcessTree: true);
            await _script.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        int[] started;
        lock (_lock)
            started = _pids.Append(_script.Id).ToArray();
        await ProcessWatch.AssertAllDeadAsync(started, TimeSpan.FromSeconds(5));
        _script.Dispose();
    }

    private async Task ReadAsync()
    {
        var decoder = Encoding.UTF8.GetDecoder();
        var bytes = new byte[4096];
        var chars = new char[Encoding.UTF8.GetMaxCharCount(bytes.Length)];
        int read;
        while ((read = await _script.StandardOutput.BaseStream.ReadAsync(bytes)) > 0)
        {
            var count = decoder.GetChars(bytes, 0, read, chars, 0);
            TrackDescendants();
            lock (_lock)
            {
                _output.Append(chars, 0, count);
                var screen = Plain(_output.ToString());
                foreach (var waiter in _waiters.Where(w => w.Match(screen)).ToList())
                {
                    _waiters.Remove(waiter);
                    waiter.Seen.TrySetResult(screen);
                }
            }
        }
    }

    /// <summary>Remembers every process under script(1), workers included (they are the arbiter's children).</summary>
    private void TrackDescendants()
    {
        var found = new List<int>();
        var queue = new Queue<int>([_script.Id]);
        while (queue.TryDequeue(out var pid))
            foreach (var child in Children(pid))
            {
                found.Add(child);
                queue.Enqueue(child);
            }
        lock (_lock)
            _pids.UnionWith(found);
    }

    private static IEnumerable<int> Children(int pid)
    {
        try
        {
            return Directory.GetDirectories($"/proc/{pid}/task")
                .SelectMany(task => File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Select(int.Parse)
                .ToList();
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
    }

    private static string Plain(string output) => EscapeSequence().Replace(output, "");

    private static string Quote(string word) => "'" + word.Replace("'", "'\\''") + "'";

    // CSI sequences (cursor moves, erase), keypad mode switches, OSC titles, carriage returns, and an
    // escape sequence cut off at the end of what has arrived so far.
    [GeneratedRegex(@"\e\[[0-9;?]*[ -/]*[@-~]|\e[=>]|\e\][^\a]*\a|\r|\e[^a-zA-Z]*$")]
    private static partial Regex EscapeSequence();
}
