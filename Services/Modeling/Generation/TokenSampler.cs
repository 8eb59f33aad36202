using static TorchSharp.torch;

namespace MsSwift.Modeling.Generation;

/// <summary>
/// Picks the next token from one row of logits: temperature, then top-k, then top-p (nucleus),
/// then a draw from the sequence's own seeded generator, so a sequence's output does not depend
/// on what else shares its batch. Sampling runs in float64: finite fp32 logits divided by any
/// accepted temperature stay finite there, so no parameter can turn the distribution into NaN.
/// </summary>
internal sealed class TokenSampler : IDisposable
{
    private readonly GenerationOptions _options;
    private readonly Generator? _generator;

    public TokenSampler(GenerationOptions options)
    {
        _options = options;
        if (!options.IsGreedy)
        {
            var seed = options.Seed ?? Random.Shared.NextInt64();
            _generator = new Generator(unchecked((ulong)seed), CPU);
        }
    }

    /// <param name="logits">[vocab] float32 on the CPU, all finite (the batcher checks them first).</param>
    /// <exception cref="GenerationException">The options left no token to draw (<see cref="GenerationFailure.InvalidRequest"/>).</exception>
    public int Sample(Tensor logits)
    {
        if (_generator is null)
        {
            return (int)logits.argmax().item<long>();
        }

        using var scope = NewDisposeScope();
        var scaled = logits.to(float64) / _options.Temperature;
        var vocab = scaled.shape[0];
        if (_options.TopK > 0 && _options.TopK < vocab)
        {
            var kth = scaled.topk(_options.TopK).values[-1];
            scaled = scaled.masked_fill(scaled.lt(kth), double.NegativeInfinity);
        }

        if (_options.TopP < 1)
        {
            var (sorted, order) = scaled.sort(descending: true);
            var probabilities = sorted.softmax(0);
            // Drop a token once the more likely ones already reach p; the most likely always stays.
            var drop = (probabilities.cumsum(0) - probabilities).gt(_options.TopP);
            scaled = full_like(scaled, double.NegativeInfinity).scatter(0, order, sorted.masked_fill(drop, double.NegativeInfinity));
        }

        var distribution = scaled.softmax(0);
        if (!distribution.isfinite().all().item<bool>() || distribution.sum().item<double>() <= 0)
        {
            throw new GenerationException(GenerationFailure.InvalidRequest,
                $"the sampling parameters (temperature {_options.Temperature}, top_k {_options.TopK}, top_p {_options.TopP}) leave no token to sample");
        }

        return (int)distribution.multinomial(1, generator: _generator).item<long>();
    }

    public void Dispose() => _generator?.Dispose();
}
