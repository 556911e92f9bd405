#!/usr/bin/env python3
"""No two files in src/ import each other, directly or in a loop.

Builds the file-level import graph of src/ (`use` paths and `crate::`/`super::`
paths in code; comments and `#[cfg(test)] mod tests` blocks do not count; a
mod.rs's `pub use child::X` counts as mod.rs -> child) and exits 1, printing
the cycles, if it has any. Run from the repository root; scripts/test.sh runs
it before the tests.
"""
import re,os,sys,collections
root='src'
files=[os.path.join(d,f) for d,_,fs in os.walk(root) for f in fs if f.endswith('.rs')]
def modpath(p):
    rel=p[len(root)+1:-3].split('/')
    if rel[-1] in('mod','lib','main'): rel=rel[:-1]
    return tuple(rel)
mods={modpath(p):p for p in files}
def expand(s):
    # expand a::{b::c, d} into list of paths
    s=s.replace(' ','').replace('\n','')
    out=[]
    def rec(prefix,t):
        # t is a list of items separated by commas at top level
        depth=0;cur='';items=[]
        for ch in t:
            if ch=='{':depth+=1
            if ch=='}':depth-=1
            if ch==',' and depth==0: items.append(cur);cur=''
            else: cur+=ch
        if cur: items.append(cur)
        for it in items:
            if '{' in it:
                i=it.index('{'); pre=it[:i].rstrip(':'); inner=it[i+1:it.rindex('}')]
                rec(prefix+[x for x in pre.split('::') if x],inner)
            else:
                out.append(prefix+[x for x in it.split('::') if x])
    rec([],s)
    return out
edges=collections.defaultdict(set)
for p in files:
    me=modpath(p); ismod=p.endswith(('mod.rs','lib.rs','main.rs'))
    # comments (doc links included) name paths without importing them
    src=re.sub(r'(?m)^\s*//.*$','',open(p).read())
    src=re.split(r'#\[cfg\(test\)\]\s*mod tests',src)[0]
    paths=[]
    for m in re.finditer(r"^\s*(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]+);",src,re.S|re.M):
        try: paths+=expand(m.group(1))
        except Exception as e: print("skip",p,m.group(1)[:60])
    for m in re.finditer(r'\b(?:crate|super)(?:::\w+)+',src): paths.append(m.group(0).split('::'))
    for parts in paths:
        if not parts: continue
        if parts[0]=='crate': base=[];rest=parts[1:]
        elif parts[0]=='super': base=list(me[:-1]) if not ismod else list(me[:-1]); rest=parts[1:]
        elif parts[0]=='self': base=list(me) if ismod else list(me[:-1]); rest=parts[1:]
        elif ismod and me+(parts[0],) in mods: base=list(me);rest=parts
        else: continue
        while rest and rest[0]=='super': base=base[:-1]; rest=rest[1:]
        cand=base+rest
        for i in range(len(cand),-1,-1):
            if tuple(cand[:i]) in mods:
                b=tuple(cand[:i])
                if b!=me: edges[me].add(b)
                break
idx={};low={};st=[];on=set();sccs=[];c=[0]
sys.setrecursionlimit(10000)
def sc(v):
    idx[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in edges.get(v,()):
        if w not in idx: sc(w); low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],idx[w])
    if low[v]==idx[v]:
        s=[]
        while True:
            w=st.pop();on.discard(w);s.append(w)
            if w==v:break
        if len(s)>1: sccs.append(s)
for v in list(mods):
    if v not in idx: sc(v)
for s in sccs:
    print('import cycle:', ' '.join(sorted('::'.join(x) or 'crate' for x in s)))
    S=set(s)
    for v in s:
        for w in sorted(edges[v]):
            if w in S: print('  ', '::'.join(v) or 'crate', '->', '::'.join(w) or 'crate')
sys.exit(1 if sccs else 0)
