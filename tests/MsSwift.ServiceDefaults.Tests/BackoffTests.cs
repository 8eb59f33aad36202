namespace MsSwift.ServiceDefaults.Tests;

public sealed class BackoffTests
{
    private static readonly Backoff Policy = new(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5));

    [Fact]
    public void Waits_double_from_the_initial_delay_up_to_the_cap_with_jitter_in_the_upper_half()
    {
        for (var attempt = 1; attempt <= 40; attempt++)
        {
            var ceiling = Math.Min(5000, 100 * Math.Pow(2, attempt - 1));
            for (var draw = 0; draw < 50; draw++)
            {
                var delay = Policy.Delay(attempt).TotalMilliseconds;
                Assert.InRange(delay, ceiling / 2, ceiling);
            }
        }
    }

    [Fact]
    public void Two_callers_retrying_together_do_not_wait_in_lockstep()
    {
        var first = Enumerable.Range(1, 8).Select(Policy.Delay).ToList();
        var second = Enumerable.Range(1, 8).Select(Policy.Delay).ToList();

        Assert.NotEqual(first, second);
    }
}
