using MsSwift.Modeling.Gpt;
using static TorchSharp.torch;

namespace MsSwift.Modeling.Generation;

/// <summary>
/// The layout of one left-padded prefill forward over some admitted prompts, with prefix-cache
/// hits. Each row's longest cached prefix (never its last token, whose logits are needed) can be
/// copied in; the forward computes S positions after a common cached part of P positions, S being
/// the longest uncached remainder. A row with a shorter remainder takes its prefix from the cache
/// only up to P and computes the rest; a row whose prompt is shorter than S is left-padded into
/// the computed part. Every row's real tokens end at P + S, as in any left-padded prefill, so the
/// model's mask and positions serve hits and misses alike. Prompts whose remainders differ a lot
/// go to separate forwards (<see cref="Split"/>): one long miss would make every hit beside it
/// compute as many positions.
/// </summary>
internal sealed class PrefillPlan
{
    private PrefillPlan(int[] rows, IReadOnlyList<int>[] prompts, ulong[] roots, IReadOnlyList<PrefixCache.Block>[] matches)
    {
        Rows = rows;
        _prompts = prompts;
        _roots = roots;
        _matches = matches;
        Steps = rows.Max(row => prompts[row].Count - matches[row].Count * PrefixCache.BlockTokens);
        Past = Math.Max(0, rows.Max(row => prompts[row].Count) - Steps);
        Pads = rows.Select(row => (long)(Past + Steps - prompts[row].Count)).ToArray();
        Cached = rows.Select(row => Math.Max(0, prompts[row].Count - Steps)).ToArray(); // positions [Pads[i], Past) of row i
    }

    private readonly IReadOnlyList<int>[] _prompts;
    private readonly ulong[] _roots;
    private readonly IReadOnlyList<PrefixCache.Block>[] _matches;

    /// <summary>The admitted requests (indexes into the prompts) this forward computes, as its rows 0, 1, ...</summary>
    public int[] Rows { get; }

    public int Steps { get; }

    public int Past { get; }

    public long[] Pads { get; }

    /// <summary>Each row's positions copied from the prefix cache.</summary>
    public int[] Cached { get; }

    public long PromptTokens => Rows.Sum(row => (long)_prompts[row].Count);

    public long Reused => Cached.Sum(cached => (long)cached);

    public IReadOnlyList<int> Prompt(int row) => _prompts[Rows[row]];

    /// <summary>The prefix-cache scope of row <paramref name="row"/>'s prompt (<see cref="PrefixCache.Root"/>).</summary>
    public ulong Root(int row) => _roots[Rows[row]];

    /// <summary>Looks every prompt up in <paramref name="prefixes"/> and groups the prompts by their uncached remainders.</summary>
    public static List<PrefillPlan> Split(IReadOnlyList<GenerationRequest> requests, PrefixCache? prefixes)
    {
        var prompts = requests.Select(request => request.Prompt).ToArray();
        var roots = requests.Select(request => PrefixCache.Root(request.PrefixScope)).ToArray();
        var matches = prompts.Select((prompt, i) => prefixes?.Match(prompt, prompt.Count - 1, roots[i]) ?? []).ToArray();
        var byRemainder = Enumerable.Range(0, prompts.Length)
            .OrderBy(row => prompts[row].Count - matches[row].Count * PrefixCache.BlockTokens)
            .ToArray();
        var remainders = byRemainder.Select(row => (long)(prompts[row].Count - matches[row].Count * PrefixCache.BlockTokens)).ToArray();
        return LengthGroups.Split([.. Enumerable.Range(0, prompts.Length)], remainders, LengthGroups.PrefillGroupCost)
            .Select(group => new PrefillPlan(byRemainder.AsSpan(group.FirstRow, group.Rows).ToArray(), prompts, roots, matches))
            .ToList();
    }

    /// <summary>The forward's cache: the rows' cached prefixes copied in, ready for <see cref="Tokens"/>.</summary>
    public KvCache CreateCache(GptModel model, PrefixCache? prefixes)
    {
        var cache = new KvCache(model.Config, Rows.Length, model.Device, model.DType, Pads, capacity: Past + Steps);
        for (var i = 0; i < Rows.Length; i++)
        {
            if (Cached[i] > 0)
            {
                prefixes!.CopyInto(_matches[Rows[i]], Cached[i], cache, i, (int)Pads[i]);
            }
        }

        cache.Advance(Past);
        return cache;
    }

    /// <summary>The computed tokens [rows, Steps]: each row's prompt after its cached part, right-aligned.</summary>
    public Tensor Tokens(Device device)
    {
        var ids = new long[Rows.Length * Steps];
        for (var i = 0; i < Rows.Length; i++)
        {
            var prompt = Prompt(i);
            for (var position = Cached[i]; position < prompt.Count; position++)
            {
                ids[i * Steps + Pads[i] + position - Past] = prompt[position];
            }
        }

        return tensor(ids, [Rows.Length, Steps], device: device);
    }
}
