namespace MsSwift.Testing;

/// <summary>Polls a condition instead of sleeping a fixed time.</summary>
public static class WaitUntil
{
    /// <summary>True as soon as <paramref name="condition"/> holds; false when <paramref name="timeout"/> passed first.</summary>
    public static async Task<bool> TrueAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(50);
        }

        return true;
    }
}
