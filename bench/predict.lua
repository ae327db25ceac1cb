-- bench/predict.lua - wrk script for POST /predict: each request carries one text of the
-- file named by $SERVE_TEXTS (one a line; bench/serve_load.sh writes the clinc150 test
-- texts there), taken in turn from a different starting line in each wrk thread. The
-- requests are formatted once, at start, so wrk's Lua costs little per request.
local requests = {}
local next_i = 1

local function json_string(s)
  s = s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == '\\' then return '\\\\' end
    return string.format('\\u%04x', c:byte())
  end)
  return '"' .. s .. '"'
end

local thread_no = 0
function setup(thread)
  thread:set("thread_no", thread_no)
  thread_no = thread_no + 1
end

function init(args)
  local path = os.getenv("SERVE_TEXTS")
  local f = path and io.open(path, "r")
  if not f then
    error("set SERVE_TEXTS to a file of texts, one a line")
  end
  local headers = { ["Content-Type"] = "application/json" }
  for line in f:lines() do
    if #line > 0 then
      local body = '{"text": ' .. json_string(line) .. '}'
      requests[#requests + 1] = wrk.format("POST", "/predict", headers, body)
    end
  end
  f:close()
  next_i = ((tonumber(thread_no) or 0) * 997) % #requests + 1
end

function request()
  local r = requests[next_i]
  next_i = next_i % #requests + 1
  return r
end
