using System.Collections.Concurrent;

namespace UFork.Http;

/// <summary>
/// Dedicated threads for blocking request handlers (ufork's threaded wsgiref server): a handler that
/// sleeps or does blocking I/O holds one of these, never a thread-pool thread that Kestrel needs to
/// accept and parse. Work beyond the thread count waits its turn in order.
/// </summary>
internal sealed class SynchronousHandlerPool : IDisposable
{
    private readonly BlockingCollection<Action> _work = new();

    public SynchronousHandlerPool(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        for (var i = 0; i < threads; i++)
            new Thread(Run) { IsBackground = true, Name = $"ufork-sync-{i}" }.Start();
    }

    public Task<T> RunAsync<T>(Func<T> handler)
    {
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                result.SetResult(handler());
            }
            catch (Exception e)
            {
                result.SetException(e);
            }
        });
        return result.Task;
    }

    private void Run()
    {
        foreach (var work in _work.GetConsumingEnumerable())
            work();
    }

    public void Dispose() => _work.CompleteAdding();
}
