using System.Text;

namespace MsSwift.Data.Datasets;

/// <summary>
/// The lines of a text (ended by <c>\n</c>, <c>\r\n</c> or <c>\r</c>, as <see cref="TextReader.ReadLine"/>
/// ends them), each at most <paramref name="maxChars"/> long: a longer one is reported as such and
/// read past without being held, where <see cref="TextReader.ReadLineAsync()"/> would build it whole
/// (an upload with no line breaks is one line of up to the upload limit). A line of nothing but
/// white space is blank, whatever its length: it still separates paragraphs.
/// </summary>
public sealed class BoundedLineReader(TextReader input, int maxChars, int bufferChars = 64 * 1024)
{
    private readonly char[] _buffer = new char[bufferChars];
    private readonly StringBuilder _line = new();
    private int _start;
    private int _end;
    private bool _skipLineFeed;

    /// <summary>The next line without its end, or null after the last; <c>TooLong</c>: the line had more than the bound (its text is null).</summary>
    public async ValueTask<(string? Text, bool TooLong)> ReadLineAsync(CancellationToken cancellationToken)
    {
        _line.Clear();
        long length = 0;
        var started = false;
        var blank = true;
        while (true)
        {
            if (_start == _end)
            {
                _start = 0;
                _end = await input.ReadAsync(_buffer, cancellationToken);
                if (_end == 0)
                {
                    return started ? Line(length, blank) : (null, false);
                }
            }

            if (_skipLineFeed)
            {
                // The '\n' of a "\r\n" that a buffer boundary split.
                _skipLineFeed = false;
                if (_buffer[_start] == '\n')
                {
                    _start++;
                    continue;
                }
            }

            started = true;
            var rest = _buffer.AsSpan(_start, _end - _start);
            var stop = rest.IndexOfAny('\r', '\n');
            var text = stop < 0 ? rest : rest[..stop];
            length += text.Length;
            blank = blank && text.IsWhiteSpace();
            if (length <= maxChars)
            {
                _line.Append(text);
            }

            _start += text.Length;
            if (stop >= 0)
            {
                _start++;
                if (rest[stop] == '\r')
                {
                    if (_start < _end)
                    {
                        _start += _buffer[_start] == '\n' ? 1 : 0;
                    }
                    else
                    {
                        _skipLineFeed = true;
                    }
                }

                return Line(length, blank);
            }
        }
    }

    private (string? Text, bool TooLong) Line(long length, bool blank) =>
        length <= maxChars ? (_line.ToString(), false) : blank ? ("", false) : (null, true);
}
