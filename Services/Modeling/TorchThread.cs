using System.Collections.Concurrent;

namespace MsSwift.Modeling;

/// <summary>
/// One long-lived thread that runs a component's libtorch work, in the order it was queued.
/// libtorch's CPU kernels keep state per calling thread (OpenMP starts a thread team for each
/// thread that enters a parallel region; allocator and kernel caches warm up per thread), so work
/// that hops across thread-pool threads after every await keeps landing on cold threads (the
/// serving engine found its first few hundred steps on a new thread several times slower). For
/// training the measured gain was within the noise (docs/BENCHMARKS.md); the thread also keeps
/// all of a step's tensors on one thread. Async code awaits <see cref="RunAsync{T}"/>; code that
/// already holds a lock and must finish before releasing it calls <see cref="Invoke{T}"/>.
/// </summary>
public sealed class TorchThread : IDisposable
{
    private readonly BlockingCollection<Action> _work = [];
    private readonly Thread _thread;

    /// <param name="name">The thread's name, as profilers and dumps show it.</param>
    public TorchThread(string name)
    {
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Runs <paramref name="work"/> on this thread after what is queued before it.</summary>
    public Task<T> RunAsync<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                done.SetResult(work());
            }
            catch (Exception error)
            {
                done.SetException(error);
            }
        });
        return done.Task;
    }

    /// <summary>Runs <paramref name="work"/> on <paramref name="thread"/>, or at once on the calling thread when there is none.</summary>
    public static Task<T> RunOn<T>(TorchThread? thread, Func<T> work) => thread is null ? Task.FromResult(work()) : thread.RunAsync(work);

    /// <summary>Runs <paramref name="work"/> on this thread and blocks the caller until it is done (inline when called from this thread).</summary>
    public T Invoke<T>(Func<T> work) =>
        Thread.CurrentThread == _thread ? work() : RunAsync(work).GetAwaiter().GetResult();

    /// <summary>Finishes the work queued so far, then ends the thread.</summary>
    public void Dispose()
    {
        _work.CompleteAdding();
        if (Thread.CurrentThread != _thread)
        {
            _thread.Join();
            _work.Dispose();
        }
    }

    private void Run()
    {
        foreach (var work in _work.GetConsumingEnumerable())
        {
            work();
        }
    }
}
