-- binary_trees.lua: Benchmarks Game "binary-trees" peer for Marrow, in Lua 5.4.
-- A node is a table {left, right}; a leaf is an empty table.
-- Usage: lua5.4 binary_trees.lua N   (N = max depth, default 10)

local function bottom_up(depth)
  if depth <= 0 then
    return {}
  end
  local l = bottom_up(depth - 1)
  local r = bottom_up(depth - 1)
  return { l, r }
end

local function check(node)
  local l = node[1]
  if l == nil then
    return 1
  end
  return 1 + check(l) + check(node[2])
end

local n = tonumber(arg and arg[1]) or 10
n = math.tointeger(n) or 10
local min_depth = 4
local max_depth = n
if max_depth < min_depth + 2 then
  max_depth = min_depth + 2
end

local stretch = max_depth + 1
io.write(string.format("stretch tree of depth %d\t check: %d\n", stretch, check(bottom_up(stretch))))

local long_lived = bottom_up(max_depth)

for d = min_depth, max_depth, 2 do
  local iters = 1 << (max_depth - d + min_depth)
  local sum = 0
  for _ = 1, iters do
    sum = sum + check(bottom_up(d))
  end
  io.write(string.format("%d\t trees of depth %d\t check: %d\n", iters, d, sum))
end

io.write(string.format("long lived tree of depth %d\t check: %d\n", max_depth, check(long_lived)))
