namespace MsSwift.Modeling.Tests;

/// <summary>
/// A seeded order-2 Markov source over a small alphabet, with its exact entropy rate: the
/// stationary distribution over symbol pairs (by power iteration) weighting each pair's
/// next-symbol entropy. A perfect model's loss on its text approaches this, and no model can beat it.
/// </summary>
internal sealed class MarkovSource
{
    private readonly int _alphabet;
    private readonly double[,] _next; // [pair, symbol]

    public MarkovSource(int alphabet, int seed, double sharpness)
    {
        _alphabet = alphabet;
        var random = new Random(seed);
        _next = new double[alphabet * alphabet, alphabet];
        for (var pair = 0; pair < alphabet * alphabet; pair++)
        {
            var weights = Enumerable.Range(0, alphabet).Select(_ => Math.Exp(sharpness * random.NextDouble())).ToArray();
            var sum = weights.Sum();
            for (var symbol = 0; symbol < alphabet; symbol++)
            {
                _next[pair, symbol] = weights[symbol] / sum;
            }
        }

        EntropyRate = ComputeEntropyRate();
    }

    /// <summary>Nats per symbol.</summary>
    public double EntropyRate { get; }

    /// <summary>Symbols rendered as the bytes 'a', 'b', ..., so they are byte-tokenizer ids.</summary>
    public int[] Sample(int length, int seed)
    {
        var random = new Random(seed);
        var text = new int[length];
        text[0] = random.Next(_alphabet);
        text[1] = random.Next(_alphabet);
        for (var i = 2; i < length; i++)
        {
            var pair = text[i - 2] * _alphabet + text[i - 1];
            var draw = random.NextDouble();
            var symbol = 0;
            for (var cumulative = _next[pair, 0]; draw > cumulative && symbol < _alphabet - 1; cumulative += _next[pair, ++symbol])
            {
            }

            text[i] = symbol;
        }

        return text.Select(symbol => 'a' + symbol).ToArray();
    }

    private double ComputeEntropyRate()
    {
        var pairs = _alphabet * _alphabet;
        var stationary = Enumerable.Repeat(1.0 / pairs, pairs).ToArray();
        for (var iteration = 0; iteration < 10_000; iteration++)
        {
            var next = new double[pairs];
            for (var pair = 0; pair < pairs; pair++)
            {
                var last = pair % _alphabet;
                for (var symbol = 0; symbol < _alphabet; symbol++)
                {
                    next[last * _alphabet + symbol] += stationary[pair] * _next[pair, symbol];
                }
            }

            var change = next.Zip(stationary, (a, b) => Math.Abs(a - b)).Sum();
            stationary = next;
            if (change < 1e-14)
            {
                break;
            }
        }

        var rate = 0.0;
        for (var pair = 0; pair < pairs; pair++)
        {
            for (var symbol = 0; symbol < _alphabet; symbol++)
            {
                var p = _next[pair, symbol];
                rate -= stationary[pair] * p * Math.Log(p);
            }
        }

        return rate;
    }
}
