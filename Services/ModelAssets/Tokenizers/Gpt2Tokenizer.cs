using Microsoft.ML.Tokenizers;

namespace MsSwift.Modeling.Tokenizers;

/// <summary>GPT-2's byte-level BPE (50257 tokens, <c>&lt;|endoftext|&gt;</c> = 50256), from bundled data: no network.</summary>
public sealed class Gpt2Tokenizer : ITokenizer
{
    public const string TokenizerId = "gpt2";

    private static readonly Lazy<TiktokenTokenizer> Shared = new(() => TiktokenTokenizer.CreateForModel("gpt2"));

    public string Id => TokenizerId;

    public int VocabSize => 50257;

    public int? EndOfTextId => 50256;

    public IReadOnlyList<int> Encode(string text) => Shared.Value.EncodeToIds(text);

    public string Decode(IEnumerable<int> ids) => Shared.Value.Decode(ids);
}
