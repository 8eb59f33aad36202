using System.Diagnostics;

namespace MsSwift.Testing;

/// <summary>The one way tests wait for a condition instead of sleeping: read until done or out of time, then return the last value.</summary>
public static class Poll
{
    public static async Task<T> UntilAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan timeout, TimeSpan? interval = null)
    {
        var elapsed = Stopwatch.StartNew();
        var value = await read();
        while (!done(value) && elapsed.Elapsed < timeout)
        {
            await Task.Delay(interval ?? TimeSpan.FromMilliseconds(20));
            value = await read();
        }

        return value;
    }

    public static Task<bool> UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, TimeSpan? interval = null) =>
        UntilAsync(condition, done => done, timeout, interval);
}
