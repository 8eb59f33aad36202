using MsSwift.Modeling.Tokenizers;

namespace MsSwift.Inference.Tests;

/// <summary>A tokenizer that counts the work done through it: encodings, decodings and the tokens decoded.</summary>
internal sealed class CountingTokenizer(ITokenizer inner) : ITokenizer
{
    private int _encodes;
    private int _decodes;
    private long _tokensDecoded;

    /// <summary>The wrapped tokenizer, to do work that is not counted.</summary>
    public ITokenizer Inner => inner;

    public int Encodes => _encodes;

    public int Decodes => _decodes;

    /// <summary>The total length of every id list decoded so far.</summary>
    public long TokensDecoded => Interlocked.Read(ref _tokensDecoded);

    public string Id => inner.Id;

    public int VocabSize => inner.VocabSize;

    public int? EndOfTextId => inner.EndOfTextId;

    public IReadOnlyList<int> Encode(string text)
    {
        Interlocked.Increment(ref _encodes);
        return inner.Encode(text);
    }

    public string Decode(IEnumerable<int> ids)
    {
        var list = ids.ToList();
        Interlocked.Increment(ref _decodes);
        Interlocked.Add(ref _tokensDecoded, list.Count);
        return inner.Decode(list);
    }
}
